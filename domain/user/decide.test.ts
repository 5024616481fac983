import t from 'tap'
import { toBase64url } from '../encoding.ts'
import { Rejection } from '../rejections.ts'
import {
  active, b64From, byDevice, byIdentity, byService, certificate, crypto, ev, FAKE_CERTIFICATE, madeAdmin, registered,
  threadCreated, threadId, user, verified,
} from '../testing/fixtures.ts'
import { given, Scenario } from '../testing/spec.ts'
import { emailHash, signIdentityRotation } from './decide.ts'

const alice = user('alice')
const bob = user('bob')
const erin = user('erin')
const stream = (u: typeof alice) => `user:${u.userId}`
const pk = (u: typeof alice) => toBase64url(u.identity.publicKey)

t.test('RegisterUser', async (t) => {
  const payload = { username: 'erin', identityPublicKey: pk(erin), encryptedEmail: erin.encryptedEmail, device: certificate(erin, erin.device) }
  const register = byIdentity(erin, 'RegisterUser', payload)
  t.test('accepted: the account and its first device', async (t) => {
    const { state } = given().when(register).then(t,
      { type: 'UserRegistered', stream: stream(erin), payload: { userId: erin.userId, username: 'erin', identityPublicKey: pk(erin), encryptedEmail: erin.encryptedEmail } },
      { type: 'DeviceAdded', stream: stream(erin), payload: { userId: erin.userId, ...payload.device } })
    const u = state.users.get(erin.userId)!
    t.equal(u.emailVerified, false, 'the e-mail is not verified yet')
    t.same(u.devices, [erin.device.deviceId])
  })
  t.test('rejected: the account or the name exists', async (t) => {
    given(registered(erin)).when(register).rejects(t, Rejection.userExists)
    const squatter = ev(stream(bob), 'UserRegistered', { userId: bob.userId, username: 'erin', identityPublicKey: pk(bob), encryptedEmail: bob.encryptedEmail })
    given(squatter).when(register).rejects(t, Rejection.usernameTaken, "'erin'")
  })
  t.test('rejected: the device id is taken', async (t) => {
    const stolen = ev(stream(alice), 'DeviceAdded', { userId: alice.userId, deviceId: erin.device.deviceId, publicKey: toBase64url(erin.device.keys.publicKey), issuedAt: 0, certificate: FAKE_CERTIFICATE })
    given(registered(alice).slice(0, 1), stolen).when(register).rejects(t, Rejection.deviceExists)
  })
  t.test('rejected: author is not the id of the identity key', async (t) => {
    given().when(byIdentity(erin, 'RegisterUser', payload, { author: alice.userId })).rejects(t, Rejection.userIdMismatch, 'command.author')
  })
  t.test('rejected: signature by another key', async (t) => {
    given().when(byIdentity(erin, 'RegisterUser', payload, { identity: alice.identity })).rejects(t, Rejection.badSignature)
  })
  t.test('rejected: device id not derived from the device key', async (t) => {
    const device = certificate(erin, erin.device, { deviceId: alice.device.deviceId })
    given().when(byIdentity(erin, 'RegisterUser', { ...payload, device })).rejects(t, Rejection.deviceIdMismatch, 'payload.device.deviceId')
  })
  t.test('rejected: certificate not by the identity key, or issued in the future', async (t) => {
    const forged = certificate(erin, erin.device, { identity: alice.identity })
    given().when(byIdentity(erin, 'RegisterUser', { ...payload, device: forged })).rejects(t, Rejection.badCertificate, 'payload.device.certificate')
    const future = certificate(erin, erin.device, { issuedAt: Date.UTC(2027, 0, 1) })
    given().when(byIdentity(erin, 'RegisterUser', { ...payload, device: future })).rejects(t, Rejection.badCertificate, 'payload.device.issuedAt')
  })
  t.test('rejected: a device key may not register an account', async (t) => {
    given().when(byDevice(erin, 'RegisterUser' as never, payload as never)).rejects(t, Rejection.wrongSigner, "must be signed by 'identity'")
  })
})

t.test('VerifyEmail (service)', async (t) => {
  const verify = (hash = alice.emailHash) => byService('VerifyEmail', { userId: alice.userId, encryptedEmailHash: hash })
  const { state } = given(registered(alice)).when(verify()).then(t, {
    type: 'EmailVerified', stream: stream(alice), payload: { userId: alice.userId, encryptedEmailHash: alice.emailHash },
  })
  t.equal(state.users.get(alice.userId)!.emailVerified, true)
  given(registered(alice)).when(verify(b64From('other', 32))).rejects(t, Rejection.emailChanged)
  given(registered(alice), verified(alice)).when(verify()).rejects(t, Rejection.noChange, 'already verified')
  given().when(verify()).rejects(t, Rejection.userNotFound)
  const gone = ev(stream(alice), 'AccountDeleted', { userId: alice.userId, by: alice.userId })
  given(registered(alice), gone).when(verify()).rejects(t, Rejection.userDeleted)
  given(registered(alice)).when(byDevice(alice, 'VerifyEmail', { userId: alice.userId, encryptedEmailHash: alice.emailHash }))
    .rejects(t, Rejection.wrongSigner, "'service'")
})

t.test('ChangeEmail: verification starts over', async (t) => {
  const email = b64From('new-email', 70)
  const { state } = given(active(alice)).when(byDevice(alice, 'ChangeEmail', { encryptedEmail: email })).then(t, {
    type: 'EmailChanged', payload: { userId: alice.userId, encryptedEmail: email, by: alice.userId },
  })
  const u = state.users.get(alice.userId)!
  t.equal(u.emailVerified, false)
  t.equal(u.emailHash, emailHash(email, crypto))
  given(active(alice)).when(byDevice(alice, 'ChangeEmail', { encryptedEmail: alice.encryptedEmail })).rejects(t, Rejection.noChange)
})

t.test('EnrolTotp / RemoveTotp: only the fact, never the seed', async (t) => {
  const enrolled = given(active(alice)).when(byDevice(alice, 'EnrolTotp', {}))
  enrolled.then(t, { type: 'TotpEnrolled', payload: { userId: alice.userId } })
  enrolled.next.when(byDevice(alice, 'EnrolTotp', {})).rejects(t, Rejection.noChange)
  enrolled.next.when(byDevice(alice, 'RemoveTotp', {})).then(t, { type: 'TotpRemoved', payload: { userId: alice.userId } })
  given(active(alice)).when(byDevice(alice, 'RemoveTotp', {})).rejects(t, Rejection.noChange)
  given(active(alice)).when(byDevice(alice, 'EnrolTotp', { seed: 'JBSWY3DPEHPK3PXP' } as never)).rejects(t, Rejection.schema, 'payload.seed: is not an allowed field')
})

t.test('SetBackupCodes: a count and a commitment', async (t) => {
  const commitment = b64From('codes', 32)
  given(active(alice)).when(byDevice(alice, 'SetBackupCodes', { count: 10, commitment })).then(t, {
    type: 'BackupCodesSet', payload: { userId: alice.userId, count: 10, commitment },
  })
  given(active(alice)).when(byDevice(alice, 'SetBackupCodes', { count: 17, commitment })).rejects(t, Rejection.schema, 'payload.count: must be at most 16')
})

t.test('RotateIdentityKey: old key signs, new key countersigns', async (t) => {
  const next = crypto.slhDsaShake256f.keygen()
  const id = b64From('rotation-command', 16)
  const newKeySignature = signIdentityRotation({
    commandId: id, userId: alice.userId, oldIdentityPublicKey: pk(alice), newIdentityPublicKey: toBase64url(next.publicKey), newIdentitySecretKey: next.secretKey,
  }, crypto)
  const rotate = byIdentity(alice, 'RotateIdentityKey', { newIdentityPublicKey: toBase64url(next.publicKey), newKeySignature }, { id })
  const rotated = given(active(alice)).when(rotate)
  const { state } = rotated.then(t, {
    type: 'IdentityKeyRotated', payload: { userId: alice.userId, identityPublicKey: toBase64url(next.publicKey), keyVersion: 1 },
  })
  t.same(state.users.get(alice.userId)!.identityPublicKey, next.publicKey)
  t.same(state.users.get(alice.userId)!.devices, [alice.device.deviceId], 'devices stay')
  // the old key no longer signs for alice
  rotated.next.when(byIdentity(alice, 'DeleteAccount', {})).rejects(t, Rejection.badSignature)
  // countersignature bound to another command id
  const replayed = byIdentity(alice, 'RotateIdentityKey', { newIdentityPublicKey: toBase64url(next.publicKey), newKeySignature })
  given(active(alice)).when(replayed).rejects(t, Rejection.badSignature, 'payload.newKeySignature')
  given(active(alice)).when(byIdentity(alice, 'RotateIdentityKey', { newIdentityPublicKey: pk(alice), newKeySignature: FAKE_CERTIFICATE }))
    .rejects(t, Rejection.noChange)
})

t.test('DeleteAccount: devices revoked, threads left, ownership passed on', async (t) => {
  const remove = byIdentity(alice, 'DeleteAccount', {})
  const T = threadId('project')
  const scenario = given(active(alice, bob), threadCreated('project', alice, [bob]), madeAdmin(bob))
  const { state } = scenario.when(remove).then(t,
    { type: 'AccountDeleted', stream: stream(alice), payload: { userId: alice.userId, by: alice.userId } },
    { type: 'DeviceRevoked', payload: { userId: alice.userId, deviceId: alice.device.deviceId, reason: 'accountDeleted' } },
    { type: 'MemberRemoved', stream: `thread:${T}`, payload: { threadId: T, userId: alice.userId, by: alice.userId, reason: 'accountDeleted' } },
    { type: 'ThreadOwnerChanged', payload: { threadId: T, owner: bob.userId } })
  t.equal(state.users.get(alice.userId)!.status, 'deleted')
  t.equal(state.usernames.get('alice'), alice.userId, 'the name stays taken')
  // the deleted account can do nothing more, by any key
  new Scenario(state).when(byIdentity(alice, 'DeleteAccount', {})).rejects(t, Rejection.userDeleted)
  given(active(alice), madeAdmin(alice)).when(remove).rejects(t, Rejection.lastAdmin)
  const off = ev(stream(alice), 'UserDisabled', { userId: alice.userId, by: bob.userId })
  given(active(alice), off).when(remove).then(t, { type: 'AccountDeleted' }, { type: 'DeviceRevoked' })
})
