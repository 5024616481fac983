import t from 'tap'
import { toBase64url } from '../encoding.ts'
import { limits } from '../limits.ts'
import { Rejection } from '../rejections.ts'
import {
  active, byDevice, byIdentity, byService, certificate, DAY_MS, deviceAdded, ev, FAKE_CERTIFICATE, newDevice, T0, user,
} from '../testing/fixtures.ts'
import { given } from '../testing/spec.ts'

const alice = user('alice')
const bob = user('bob')
const phone = newDevice('alice-phone')
const stream = `user:${alice.userId}`
const revoked = (d = alice.device) => ev(stream, 'DeviceRevoked', { userId: alice.userId, deviceId: d.deviceId, reason: 'user' })

t.test('AddDevice', async (t) => {
  const device = certificate(alice, phone)
  const add = byIdentity(alice, 'AddDevice', { device })
  const { state } = given(active(alice)).when(add).then(t, { type: 'DeviceAdded', stream, payload: { userId: alice.userId, ...device } })
  t.same(state.users.get(alice.userId)!.devices, [alice.device.deviceId, phone.deviceId])
  given(active(alice), deviceAdded(alice, phone)).when(add).rejects(t, Rejection.deviceExists)
  const others = Array.from({ length: limits.devicesPerUserMax - 1 }, (_, i) => deviceAdded(alice, newDevice(`spare-${i}`)))
  given(active(alice), others).when(add).rejects(t, Rejection.limitExceeded, 'revoke one first')
  const forged = byIdentity(alice, 'AddDevice', { device: { ...device, certificate: FAKE_CERTIFICATE } })
  given(active(alice)).when(forged).rejects(t, Rejection.badCertificate)
  const wrongId = byIdentity(alice, 'AddDevice', { device: { ...device, deviceId: bob.device.deviceId } })
  given(active(alice)).when(wrongId).rejects(t, Rejection.deviceIdMismatch)
  given(active(alice)).when(byDevice(alice, 'AddDevice' as never, { device } as never)).rejects(t, Rejection.wrongSigner)
})

t.test('RevokeDevice: by the identity key, or a device revoking itself', async (t) => {
  const byKey = byIdentity(alice, 'RevokeDevice', { deviceId: phone.deviceId })
  const s = given(active(alice), deviceAdded(alice, phone))
  const { state } = s.when(byKey).then(t, { type: 'DeviceRevoked', payload: { userId: alice.userId, deviceId: phone.deviceId, reason: 'user' } })
  t.same(state.users.get(alice.userId)!.devices, [alice.device.deviceId])
  s.and(T0 + 1, revoked(phone)).when(byKey).rejects(t, Rejection.deviceRevoked)
  given(active(alice)).when(byKey).rejects(t, Rejection.deviceNotFound)
  s.when(byDevice(alice, 'RevokeDevice', { deviceId: phone.deviceId }, { device: phone }))
    .then(t, { type: 'DeviceRevoked', payload: { userId: alice.userId, deviceId: phone.deviceId, reason: 'self' } })
  s.when(byDevice(alice, 'RevokeDevice', { deviceId: phone.deviceId })).rejects(t, Rejection.wrongSigner, 'may revoke only itself')
  // a revoked device can no longer sign anything
  s.and(T0 + 1, revoked(phone)).when(byDevice(alice, 'EnrolTotp', {}, { device: phone })).rejects(t, Rejection.keyRevoked)
})

t.test('RotateDeviceKey: new key, same device id; revives an expired key', async (t) => {
  const fresh = newDevice('alice-laptop-2')
  const cert = certificate(alice, { deviceId: alice.device.deviceId, keys: fresh.keys })
  const late = T0 + 91 * DAY_MS
  const rotate = byIdentity(alice, 'RotateDeviceKey', { deviceId: alice.device.deviceId, publicKey: cert.publicKey, issuedAt: cert.issuedAt, certificate: cert.certificate }, { time: late })
  const s = given(active(alice))
  s.when(byDevice(alice, 'EnrolTotp', {}, { time: late })).rejects(t, Rejection.keyExpired, 'rotate it')
  const rotated = s.when(rotate)
  rotated.then(t, { type: 'DeviceKeyRotated', payload: { userId: alice.userId, deviceId: alice.device.deviceId, publicKey: cert.publicKey, issuedAt: T0, certificate: cert.certificate, keyVersion: 1 } })
  const laptop = { deviceId: alice.device.deviceId, keys: fresh.keys }
  rotated.next.when(byDevice(alice, 'EnrolTotp', {}, { time: late, device: laptop })).then(t, { type: 'TotpEnrolled' })
  rotated.next.when(byDevice(alice, 'EnrolTotp', {}, { time: late })).rejects(t, Rejection.badSignature) // the old key no longer signs
  s.and(T0 + 1, revoked()).when(rotate).rejects(t, Rejection.deviceRevoked)
  given(active(bob)).and(T0 + 1, active(alice).slice(0, 1)).when(rotate).rejects(t, Rejection.deviceNotFound)
  const same = byIdentity(alice, 'RotateDeviceKey', { deviceId: alice.device.deviceId, publicKey: toBase64url(alice.device.keys.publicKey), issuedAt: T0, certificate: FAKE_CERTIFICATE })
  s.when(same).rejects(t, Rejection.noChange)
  const forged = byIdentity(alice, 'RotateDeviceKey', { deviceId: alice.device.deviceId, publicKey: cert.publicKey, issuedAt: T0, certificate: FAKE_CERTIFICATE })
  s.when(forged).rejects(t, Rejection.badCertificate)
})

t.test('MarkKeyRotationDue / ExpireKeys (rotation job)', async (t) => {
  const key = { userId: alice.userId, deviceId: alice.device.deviceId, keyVersion: 0 }
  const at = (days: number) => T0 + days * DAY_MS
  const due = (days: number, keys = [key]) => byService('MarkKeyRotationDue', { keys }, { time: at(days) })
  const expire = (days: number, keys = [key]) => byService('ExpireKeys', { keys }, { time: at(days) })
  const s = given(active(alice, bob))
  const marked = s.when(due(31))
  marked.then(t, { type: 'DeviceKeyRotationDue', stream, payload: key })
  t.equal(marked.next.state.devices.get(alice.device.deviceId)!.rotationDue, true)
  marked.next.when(due(32)).rejects(t, Rejection.nothingToDo, 'already handled')
  s.when(due(29)).rejects(t, Rejection.keyNotDue, 'payload.keys[0]')
  const stale = { ...key, keyVersion: 3 }
  const bobKey = { userId: bob.userId, deviceId: bob.device.deviceId, keyVersion: 0 }
  s.when(due(31, [stale, bobKey])).then(t, { type: 'DeviceKeyRotationDue', stream: `user:${bob.userId}`, payload: bobKey })
  const expired = s.when(expire(91))
  expired.then(t, { type: 'DeviceKeyExpired', payload: key })
  expired.next.when(byDevice(alice, 'EnrolTotp', {}, { time: at(91) })).rejects(t, Rejection.keyExpired)
  s.when(expire(89)).rejects(t, Rejection.keyNotDue)
  s.when(byDevice(alice, 'ExpireKeys' as never, { keys: [key] } as never)).rejects(t, Rejection.wrongSigner)
})
