// Rules for account commands. Pure: the state, the block time and hashing/signature
// checks through the crypto facade; no clock, no randomness.
import { assert } from '../assert.ts'
import type { CryptoFacade } from '../crypto/types.ts'
import { fromBase64url, toBase64url, utf8Encode } from '../encoding.ts'
import { deviceIdFor, userIdFor, verifyDeviceCertificate } from '../identity.ts'
import { encode } from '../ledger/codec.ts'
import type { EventDraft } from '../ledger/envelope.ts'
import { limits } from '../limits.ts'
import { accept, type Decision, draft, isRejected, reject, Rejection, type Rejected, userStream } from '../rejections.ts'
import type { DecideContext, LedgerState, UserState } from '../state.ts'
import { departureEvents } from '../thread/decide.ts'
import {
  type ChangeEmail, type DeleteAccount, type DeviceCertificate, type EnrolTotp, IDENTITY_ROTATION_CONTEXT, type RegisterUser,
  type RemoveTotp, type RotateIdentityKey, type SetBackupCodes, type UserCommand, type VerifyEmail,
} from './commands.ts'
import type { DeviceRevocationReason } from '../device/events.ts'

/** base64url SHA3-256 of the ciphertext bytes: what VerifyEmail names. */
export function emailHash(encryptedEmail: string, crypto: CryptoFacade): string {
  return toBase64url(crypto.sha3_256(fromBase64url(encryptedEmail, 'encryptedEmail')))
}

/** The bytes the new identity key signs in RotateIdentityKey (context 'zixt/identity-rotation/v1'). */
export function identityRotationBytes(input: {
  readonly commandId: string
  readonly userId: string
  readonly oldIdentityPublicKey: string
  readonly newIdentityPublicKey: string
}): Uint8Array {
  return encode({
    commandId: input.commandId,
    userId: input.userId,
    oldIdentityPublicKey: input.oldIdentityPublicKey,
    newIdentityPublicKey: input.newIdentityPublicKey,
  })
}

/** Client side: the new key's countersignature for RotateIdentityKey. */
export function signIdentityRotation(
  input: Parameters<typeof identityRotationBytes>[0] & { readonly newIdentitySecretKey: Uint8Array },
  crypto: CryptoFacade,
): string {
  const sig = crypto.slhDsaShake256f.sign(input.newIdentitySecretKey, identityRotationBytes(input), utf8Encode(IDENTITY_ROTATION_CONTEXT))
  return toBase64url(sig)
}

/** A user that may be the target of an action: exists and is not deleted. */
export function liveUser(state: LedgerState, userId: string, field = 'payload.userId'): UserState | Rejected {
  const user = state.users.get(userId)
  if (user === undefined) return reject(Rejection.userNotFound, `${field}: no user ${userId}`)
  if (user.status === 'deleted') return reject(Rejection.userDeleted, `${field}: user ${userId} is deleted`)
  return user
}


/** Rules for a new account's id, key and name (RegisterUser, AdminCreateUser, BootstrapAdmin). */
export function checkNewUser(
  state: LedgerState,
  input: { readonly userId: string; readonly username: string; readonly identityPublicKey: string },
  crypto: CryptoFacade,
  userIdField: string,
): Rejected | undefined {
  const expected = userIdFor(fromBase64url(input.identityPublicKey), crypto)
  if (input.userId !== expected) {
    return reject(Rejection.userIdMismatch, `${userIdField}: ${input.userId} is not the id of payload.identityPublicKey (${expected})`)
  }
  if (state.users.has(input.userId)) return reject(Rejection.userExists, `${userIdField}: user ${input.userId} already exists`)
  if (state.usernames.has(input.username)) return reject(Rejection.usernameTaken, `payload.username: '${input.username}' is taken`)
  return undefined
}

/** Rules for a device certificate that introduces a new device id (register, add). */
export function checkNewDevice(
  ctx: DecideContext,
  owner: { readonly userId: string; readonly identityPublicKey: Uint8Array },
  device: DeviceCertificate,
  field: string,
): Rejected | undefined {
  const expected = deviceIdFor(fromBase64url(device.publicKey), ctx.crypto)
  if (device.deviceId !== expected) {
    return reject(Rejection.deviceIdMismatch, `${field}.deviceId: ${device.deviceId} is not the id of ${field}.publicKey (${expected})`)
  }
  if (ctx.state.devices.has(device.deviceId)) return reject(Rejection.deviceExists, `${field}.deviceId: device ${device.deviceId} already exists`)
  return checkCertificate(ctx, owner, device, field)
}

export function checkCertificate(
  ctx: DecideContext,
  owner: { readonly userId: string; readonly identityPublicKey: Uint8Array },
  device: DeviceCertificate,
  field: string,
): Rejected | undefined {
  if (device.issuedAt > ctx.time + limits.commandSkewMs) {
    return reject(Rejection.badCertificate, `${field}.issuedAt: ${device.issuedAt} is later than the block time ${ctx.time}`)
  }
  if (!verifyDeviceCertificate(device, owner, ctx.crypto)) {
    return reject(Rejection.badCertificate, `${field}.certificate: not signed by the identity key of user ${owner.userId}`)
  }
  return undefined
}

/**
 * An account going away: AccountDeleted, each remaining device revoked, and the user
 * leaving each thread (with a new owner where they owned it).
 */
export function accountRemovalEvents(state: LedgerState, user: UserState, by: string): Decision {
  if (user.admin && user.status === 'active' && state.adminCount <= 1) {
    return reject(Rejection.lastAdmin, `user ${user.userId} is the last admin: make another admin first`)
  }
  const events: EventDraft[] = [draft(userStream(user.userId), 'AccountDeleted', { userId: user.userId, by })]
  const reason: DeviceRevocationReason = 'accountDeleted'
  for (const deviceId of user.devices) events.push(draft(userStream(user.userId), 'DeviceRevoked', { userId: user.userId, deviceId, reason }))
  for (const threadId of user.threads) {
    const thread = state.threads.get(threadId)
    if (thread === undefined) continue
    events.push(...departureEvents(thread, user.userId, { type: 'MemberRemoved', by, reason: 'accountDeleted' }))
  }
  return accept(...events)
}

function registerUser(cmd: RegisterUser, ctx: DecideContext): Decision {
  const p = cmd.payload
  const bad = checkNewUser(ctx.state, { userId: cmd.author, ...p }, ctx.crypto, 'command.author')
  if (bad) return bad
  const identityPublicKey = fromBase64url(p.identityPublicKey)
  const badDevice = checkNewDevice(ctx, { userId: cmd.author, identityPublicKey }, p.device, 'payload.device')
  if (badDevice) return badDevice
  const stream = userStream(cmd.author)
  return accept(
    draft(stream, 'UserRegistered', { userId: cmd.author, username: p.username, identityPublicKey: p.identityPublicKey, encryptedEmail: p.encryptedEmail }),
    draft(stream, 'DeviceAdded', { userId: cmd.author, ...p.device }),
  )
}

function verifyEmail(cmd: VerifyEmail, ctx: DecideContext): Decision {
  const user = liveUser(ctx.state, cmd.payload.userId)
  if (isRejected(user)) return user
  if (user.emailHash !== cmd.payload.encryptedEmailHash) {
    return reject(Rejection.emailChanged, `payload.encryptedEmailHash: ${cmd.payload.encryptedEmailHash} is not the current e-mail of user ${user.userId}`)
  }
  if (user.emailVerified) return reject(Rejection.noChange, `payload.userId: the e-mail of user ${user.userId} is already verified`)
  return accept(draft(userStream(user.userId), 'EmailVerified', { userId: user.userId, encryptedEmailHash: cmd.payload.encryptedEmailHash }))
}

function changeEmail(cmd: ChangeEmail, ctx: DecideContext, user: UserState): Decision {
  if (emailHash(cmd.payload.encryptedEmail, ctx.crypto) === user.emailHash) {
    return reject(Rejection.noChange, 'payload.encryptedEmail: same as the current one')
  }
  return accept(draft(userStream(user.userId), 'EmailChanged', { userId: user.userId, encryptedEmail: cmd.payload.encryptedEmail, by: user.userId }))
}

function enrolTotp(_cmd: EnrolTotp, user: UserState): Decision {
  if (user.totpEnabled) return reject(Rejection.noChange, `user ${user.userId} already has TOTP enrolled`)
  return accept(draft(userStream(user.userId), 'TotpEnrolled', { userId: user.userId }))
}

function removeTotp(_cmd: RemoveTotp, user: UserState): Decision {
  if (!user.totpEnabled) return reject(Rejection.noChange, `user ${user.userId} has no TOTP enrolled`)
  return accept(draft(userStream(user.userId), 'TotpRemoved', { userId: user.userId }))
}

function setBackupCodes(cmd: SetBackupCodes, user: UserState): Decision {
  return accept(draft(userStream(user.userId), 'BackupCodesSet', { userId: user.userId, ...cmd.payload }))
}

function rotateIdentityKey(cmd: RotateIdentityKey, ctx: DecideContext, user: UserState): Decision {
  const oldKey = toBase64url(user.identityPublicKey)
  const p = cmd.payload
  if (p.newIdentityPublicKey === oldKey) return reject(Rejection.noChange, 'payload.newIdentityPublicKey: same as the current identity key')
  const message = identityRotationBytes({ commandId: cmd.id, userId: user.userId, oldIdentityPublicKey: oldKey, newIdentityPublicKey: p.newIdentityPublicKey })
  const ok = ctx.crypto.slhDsaShake256f.verify(
    fromBase64url(p.newIdentityPublicKey),
    message,
    fromBase64url(p.newKeySignature),
    utf8Encode(IDENTITY_ROTATION_CONTEXT),
  )
  if (!ok) return reject(Rejection.badSignature, 'payload.newKeySignature: not a signature of the new identity key over this rotation')
  return accept(draft(userStream(user.userId), 'IdentityKeyRotated', {
    userId: user.userId, identityPublicKey: p.newIdentityPublicKey, keyVersion: user.identityKeyVersion + 1,
  }))
}

function deleteAccount(_cmd: DeleteAccount, ctx: DecideContext, user: UserState): Decision {
  return accountRemovalEvents(ctx.state, user, user.userId)
}

/** The acting user of a device- or identity-signed command (resolved by execute.ts). */
function actor(ctx: DecideContext): UserState {
  const s = ctx.signer
  assert(s.kind === 'device' || s.kind === 'identity', `user command signed by ${s.kind}`)
  return s.user
}

export function decideUser(cmd: UserCommand, ctx: DecideContext): Decision {
  switch (cmd.type) {
    case 'RegisterUser': return registerUser(cmd, ctx)
    case 'VerifyEmail': return verifyEmail(cmd, ctx)
    case 'ChangeEmail': return changeEmail(cmd, ctx, actor(ctx))
    case 'EnrolTotp': return enrolTotp(cmd, actor(ctx))
    case 'RemoveTotp': return removeTotp(cmd, actor(ctx))
    case 'SetBackupCodes': return setBackupCodes(cmd, actor(ctx))
    case 'RotateIdentityKey': return rotateIdentityKey(cmd, ctx, actor(ctx))
    case 'DeleteAccount': return deleteAccount(cmd, ctx, actor(ctx))
  }
}
