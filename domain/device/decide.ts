// Rules for device commands: certified keys, revocation, and the rotation job's facts.
import { assert } from '../assert.ts'
import { toBase64url } from '../encoding.ts'
import type { EventDraft } from '../ledger/envelope.ts'
import { limits } from '../limits.ts'
import { accept, type Decision, draft, isRejected, reject, Rejection, type Rejected, userStream } from '../rejections.ts'
import type { DecideContext, DeviceState, UserState } from '../state.ts'
import { checkCertificate, checkNewDevice } from '../user/decide.ts'
import type { AddDevice, DeviceCommand, ExpireKeys, KeyRef, MarkKeyRotationDue, RevokeDevice, RotateDeviceKey } from './commands.ts'

/** A device of `user` that has not been revoked. */
function ownDevice(ctx: DecideContext, user: UserState, deviceId: string): DeviceState | Rejected {
  const device = ctx.state.devices.get(deviceId)
  if (device === undefined || device.userId !== user.userId) {
    return reject(Rejection.deviceNotFound, `payload.deviceId: user ${user.userId} has no device ${deviceId}`)
  }
  if (device.revoked) return reject(Rejection.deviceRevoked, `payload.deviceId: device ${deviceId} is revoked`)
  return device
}


function addDevice(cmd: AddDevice, ctx: DecideContext, user: UserState): Decision {
  if (user.devices.length >= limits.devicesPerUserMax) {
    return reject(Rejection.limitExceeded, `user ${user.userId} has ${limits.devicesPerUserMax} devices already: revoke one first`)
  }
  const bad = checkNewDevice(ctx, user, cmd.payload.device, 'payload.device')
  if (bad) return bad
  return accept(draft(userStream(user.userId), 'DeviceAdded', { userId: user.userId, ...cmd.payload.device }))
}

function revokeDevice(cmd: RevokeDevice, ctx: DecideContext, user: UserState): Decision {
  const self = cmd.signer === 'device'
  if (self && cmd.keyId !== cmd.payload.deviceId) {
    return reject(Rejection.wrongSigner, `payload.deviceId: a device may revoke only itself (${cmd.keyId}); other devices need the identity key`)
  }
  const device = ownDevice(ctx, user, cmd.payload.deviceId)
  if (isRejected(device)) return device
  return accept(draft(userStream(user.userId), 'DeviceRevoked', { userId: user.userId, deviceId: device.deviceId, reason: self ? 'self' : 'user' }))
}

function rotateDeviceKey(cmd: RotateDeviceKey, ctx: DecideContext, user: UserState): Decision {
  const device = ownDevice(ctx, user, cmd.payload.deviceId)
  if (isRejected(device)) return device
  if (cmd.payload.publicKey === toBase64url(device.publicKey)) return reject(Rejection.noChange, 'payload.publicKey: same as the current device key')
  const bad = checkCertificate(ctx, user, cmd.payload, 'payload')
  if (bad) return bad
  return accept(draft(userStream(user.userId), 'DeviceKeyRotated', { userId: user.userId, ...cmd.payload, keyVersion: device.keyVersion + 1 }))
}

/**
 * The rotation job's batch. Entries that went stale since the job read them (device
 * revoked or gone, another key version, already marked) are skipped; a key that is too
 * young is a job bug and rejects the batch.
 */
function ageKeys(cmd: MarkKeyRotationDue | ExpireKeys, ctx: DecideContext): Decision {
  const due = cmd.type === 'MarkKeyRotationDue'
  const ageMs = due ? limits.deviceKeyRotationDueMs : limits.deviceKeyExpiryMs
  const seen = new Set<string>()
  const events: EventDraft[] = []
  for (let i = 0; i < cmd.payload.keys.length; i++) {
    const key: KeyRef = cmd.payload.keys[i]!
    const device = ctx.state.devices.get(key.deviceId)
    const stale = device === undefined || device.userId !== key.userId || device.revoked || device.keyVersion !== key.keyVersion ||
      (due ? device.rotationDue || device.expired : device.expired) || seen.has(key.deviceId)
    if (stale) continue
    const age = ctx.time - device.keyCreatedAt
    if (age < ageMs) {
      return reject(Rejection.keyNotDue, `payload.keys[${i}]: key ${key.keyVersion} of device ${key.deviceId} is ${age} ms old, not ${ageMs}`)
    }
    seen.add(key.deviceId)
    events.push(draft(userStream(key.userId), due ? 'DeviceKeyRotationDue' : 'DeviceKeyExpired', { ...key }))
  }
  if (events.length === 0) return reject(Rejection.nothingToDo, 'payload.keys: every listed key is already handled, revoked or rotated')
  return accept(...events)
}

export function decideDevice(cmd: DeviceCommand, ctx: DecideContext): Decision {
  if (cmd.type === 'MarkKeyRotationDue' || cmd.type === 'ExpireKeys') return ageKeys(cmd, ctx)
  const s = ctx.signer
  assert(s.kind === 'identity' || s.kind === 'device', `${cmd.type} signed by ${s.kind}`)
  switch (cmd.type) {
    case 'AddDevice': return addDevice(cmd, ctx, s.user)
    case 'RevokeDevice': return revokeDevice(cmd, ctx, s.user)
    case 'RotateDeviceKey': return rotateDeviceKey(cmd, ctx, s.user)
  }
}
