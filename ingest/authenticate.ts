// Second gate: the signing key is known and active in the read model and the signature
// verifies. The replicas re-check all of it against the ledger state; this only keeps
// obviously bad commands out of consensus.
import { verifyCommandSignature, type SignedDomainCommand } from '../domain/command.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { fromBase64url } from '../domain/encoding.ts'
import { ZixtError } from '../domain/errors.ts'
import { limits } from '../domain/limits.ts'
import { Rejection } from '../domain/rejections.ts'

export type KnownDevice = {
  readonly userId: string
  readonly publicKey: string // current ML-DSA-65 key, base64url
  readonly issuedAt: number
  readonly revoked: boolean
  readonly expired: boolean
}
export type KnownUser = { readonly identityPublicKey: string; readonly deleted: boolean; readonly disabled: boolean }

/** Read-model lookups ingest needs; the web wires them to projections/read. */
export type KeyDirectory = {
  device(deviceId: string): Promise<KnownDevice | null>
  user(userId: string): Promise<KnownUser | null>
  /** Genesis service keys (public, base64url) by key id. */
  serviceKey(keyId: string): Uint8Array | null
}

function fail(code: string, message: string, field?: string): never {
  throw new ZixtError(code, message, field === undefined ? {} : { field })
}

/** The public key the command must verify under (read-model look-ups); throws like authenticateCommand. */
export async function signingKey(signed: SignedDomainCommand, keys: KeyDirectory, now: number): Promise<Uint8Array> {
  const c = signed.command
  if (c.signer === 'service') {
    const k = keys.serviceKey(c.keyId)
    return k ?? fail(Rejection.unknownKey, `command.keyId: unknown service key '${c.keyId}'`, 'command.keyId')
  }
  if (c.signer === 'identity') {
    if (c.type === 'RegisterUser') return fromBase64url((c.payload as { identityPublicKey: string }).identityPublicKey)
    if (c.author.startsWith('replica:')) fail(Rejection.wrongSigner, 'command.author: replica commands do not come through the web', 'command.author')
    const user = await keys.user(c.author)
    if (user === null) fail(Rejection.userNotFound, `command.author: no user '${c.author}'`, 'command.author')
    if (user.deleted) fail(Rejection.userDeleted, `command.author: user '${c.author}' is deleted`, 'command.author')
    return fromBase64url(user.identityPublicKey)
  }
  const device = await keys.device(c.keyId)
  if (device === null || device.userId !== c.author) fail(Rejection.unknownKey, `command.keyId: no device '${c.keyId}' of user '${c.author}'`, 'command.keyId')
  if (device.revoked) fail(Rejection.keyRevoked, `command.keyId: device '${c.keyId}' is revoked`, 'command.keyId')
  if (device.expired || now - device.issuedAt > limits.deviceKeyExpiryMs) {
    fail(Rejection.keyExpired, `command.keyId: the key of device '${c.keyId}' expired; rotate it`, 'command.keyId')
  }
  return fromBase64url(device.publicKey)
}

/** Throws ZixtError (UNKNOWN_KEY, KEY_REVOKED, KEY_EXPIRED, USER_NOT_FOUND, BAD_SIGNATURE, CLOCK_SKEW). */
export async function authenticateCommand(signed: SignedDomainCommand, keys: KeyDirectory, crypto: CryptoFacade, now: number): Promise<void> {
  checkClock(signed, now)
  verifyWith(signed, await signingKey(signed, keys, now), crypto)
}

export function checkClock(signed: SignedDomainCommand, now: number): void {
  if (Math.abs(signed.command.time - now) > limits.commandSkewMs) {
    fail(Rejection.clockSkew, `command.time: ${signed.command.time} is more than ${limits.commandSkewMs / 60_000} minutes from the server clock`, 'command.time')
  }
}

export function verifyWith(signed: SignedDomainCommand, key: Uint8Array, crypto: CryptoFacade): void {
  if (!verifyCommandSignature(signed, key, crypto)) fail(Rejection.badSignature, 'signature: does not verify', 'signature')
}
