import t from 'tap'
import { toBase64url } from '../encoding.ts'
import { Rejection } from '../rejections.ts'
import {
  active, b64From, byDevice, byService, crypto, deviceAdded, ev, madeAdmin, newDevice, SERVICE_KEY_ID, threadCreated, threadId, user,
} from '../testing/fixtures.ts'
import { given } from '../testing/spec.ts'

const root = user('root')
const alice = user('alice')
const bob = user('bob')
const frank = user('frank')
const stream = (u: typeof alice) => `user:${u.userId}`
const pk = (u: typeof alice) => toBase64url(u.identity.publicKey)
const admins = [...active(root, alice, bob), madeAdmin(root)]

t.test('BootstrapAdmin: only while no admin exists', async (t) => {
  const payload = { userId: root.userId, username: 'root', identityPublicKey: pk(root), encryptedEmail: root.encryptedEmail }
  const boot = byService('BootstrapAdmin', payload)
  const { state } = given().when(boot).then(t, { type: 'UserCreated', stream: stream(root), payload: { ...payload, admin: true, by: SERVICE_KEY_ID } })
  t.equal(state.adminCount, 1)
  given(active(alice), madeAdmin(alice)).when(boot).rejects(t, Rejection.adminExists)
  given(active(root)).when(boot).rejects(t, Rejection.userExists)
  given().when(byService('BootstrapAdmin', { ...payload, userId: alice.userId })).rejects(t, Rejection.userIdMismatch)
  given(active(alice)).when(byService('BootstrapAdmin', { ...payload, username: 'alice' })).rejects(t, Rejection.usernameTaken)
})

t.test('AdminCreateUser', async (t) => {
  const payload = { userId: frank.userId, username: 'frank', identityPublicKey: pk(frank), encryptedEmail: frank.encryptedEmail, admin: false }
  const create = (by = root) => byDevice(by, 'AdminCreateUser', payload)
  const created = given(admins).when(create())
  created.then(t, { type: 'UserCreated', payload: { ...payload, by: root.userId } })
  given(admins).when(create(alice)).rejects(t, Rejection.notAdmin, alice.userId)
  created.next.when(byDevice(root, 'AdminCreateUser', payload)).rejects(t, Rejection.userExists)
  given(admins).when(byDevice(root, 'AdminCreateUser', { ...payload, username: 'alice' })).rejects(t, Rejection.usernameTaken)
  given(admins).when(byDevice(root, 'AdminCreateUser', { ...payload, userId: alice.userId })).rejects(t, Rejection.userIdMismatch)
  // frank then adds his own device with his identity key (account-level)
  t.same(created.next.state.users.get(frank.userId)!.devices, [], 'no device until frank adds one')
})

t.test('AdminEditUser: one event per changed field', async (t) => {
  const email = b64From('alice-new-email', 64)
  const edit = byDevice(root, 'AdminEditUser', { userId: alice.userId, username: 'alice2', encryptedEmail: email, admin: true })
  const { state } = given(admins).when(edit).then(t,
    { type: 'UsernameChanged', payload: { userId: alice.userId, username: 'alice2', by: root.userId } },
    { type: 'EmailChanged', payload: { userId: alice.userId, encryptedEmail: email, by: root.userId } },
    { type: 'AdminGranted', payload: { userId: alice.userId, by: root.userId } })
  t.equal(state.usernames.get('alice2'), alice.userId)
  t.equal(state.usernames.get('alice'), undefined, 'the old name is free again')
  t.equal(state.adminCount, 2)
  given(admins).when(byDevice(root, 'AdminEditUser', { userId: alice.userId, username: 'bob' })).rejects(t, Rejection.usernameTaken)
  given(admins).when(byDevice(root, 'AdminEditUser', { userId: alice.userId, username: 'alice', admin: false })).rejects(t, Rejection.noChange)
  given(admins).when(byDevice(root, 'AdminEditUser', { userId: root.userId, admin: false })).rejects(t, Rejection.lastAdmin)
  given(admins).when(byDevice(alice, 'AdminEditUser', { userId: alice.userId, admin: true })).rejects(t, Rejection.notAdmin)
  given(admins).when(byDevice(root, 'AdminEditUser', { userId: frank.userId, admin: true })).rejects(t, Rejection.userNotFound)
  given(admins).when(byDevice(root, 'AdminEditUser', { userId: alice.userId })).rejects(t, Rejection.schema, 'payload: must have at least 2 fields')
  const gone = ev(stream(alice), 'AccountDeleted', { userId: alice.userId, by: alice.userId })
  given(admins, gone).when(byDevice(root, 'AdminEditUser', { userId: alice.userId, admin: true })).rejects(t, Rejection.userDeleted)
})

t.test('AdminDisableUser / AdminEnableUser', async (t) => {
  const disabled = given(admins).when(byDevice(root, 'AdminDisableUser', { userId: alice.userId }))
  disabled.then(t, { type: 'UserDisabled', payload: { userId: alice.userId, by: root.userId } })
  disabled.next.when(byDevice(alice, 'EnrolTotp', {})).rejects(t, Rejection.userDisabled, 'is disabled')
  disabled.next.when(byDevice(root, 'AdminDisableUser', { userId: alice.userId })).rejects(t, Rejection.noChange)
  disabled.next.when(byDevice(root, 'AdminEnableUser', { userId: alice.userId })).then(t, { type: 'UserEnabled', payload: { userId: alice.userId, by: root.userId } })
  given(admins).when(byDevice(root, 'AdminEnableUser', { userId: alice.userId })).rejects(t, Rejection.noChange)
  given(admins).when(byDevice(root, 'AdminDisableUser', { userId: root.userId })).rejects(t, Rejection.lastAdmin)
  given(admins).when(byDevice(bob, 'AdminDisableUser', { userId: alice.userId })).rejects(t, Rejection.notAdmin)
  given(admins).when(byDevice(root, 'AdminDisableUser', { userId: frank.userId })).rejects(t, Rejection.userNotFound)
})

t.test('AdminDeleteUser', async (t) => {
  const T = threadId('t')
  const del = byDevice(root, 'AdminDeleteUser', { userId: alice.userId })
  given(admins, threadCreated('t', alice, [bob])).when(del).then(t,
    { type: 'AccountDeleted', payload: { userId: alice.userId, by: root.userId } },
    { type: 'DeviceRevoked', payload: { userId: alice.userId, deviceId: alice.device.deviceId, reason: 'accountDeleted' } },
    { type: 'MemberRemoved', payload: { threadId: T, userId: alice.userId, by: root.userId, reason: 'accountDeleted' } },
    { type: 'ThreadOwnerChanged', payload: { threadId: T, owner: bob.userId } })
  given(admins).when(byDevice(root, 'AdminDeleteUser', { userId: root.userId })).rejects(t, Rejection.lastAdmin)
  given(admins).when(byDevice(bob, 'AdminDeleteUser', { userId: alice.userId })).rejects(t, Rejection.notAdmin)
  given(admins).when(byDevice(root, 'AdminDeleteUser', { userId: frank.userId })).rejects(t, Rejection.userNotFound)
  const gone = ev(stream(alice), 'AccountDeleted', { userId: alice.userId, by: alice.userId })
  given(admins, gone).when(del).rejects(t, Rejection.userDeleted)
})

t.test("AdminReplaceUserKey: new identity key, the user's devices revoked", async (t) => {
  const lost = crypto.slhDsaShake256f.keygen()
  const phone = newDevice('alice-phone')
  const replace = byDevice(root, 'AdminReplaceUserKey', { userId: alice.userId, identityPublicKey: toBase64url(lost.publicKey) })
  const { state } = given(admins, deviceAdded(alice, phone)).when(replace).then(t,
    { type: 'IdentityKeyReplaced', payload: { userId: alice.userId, identityPublicKey: toBase64url(lost.publicKey), keyVersion: 1, by: root.userId } },
    { type: 'DeviceRevoked', payload: { userId: alice.userId, deviceId: alice.device.deviceId, reason: 'identityReplaced' } },
    { type: 'DeviceRevoked', payload: { userId: alice.userId, deviceId: phone.deviceId, reason: 'identityReplaced' } })
  t.same(state.users.get(alice.userId)!.devices, [])
  given(admins).when(byDevice(root, 'AdminReplaceUserKey', { userId: alice.userId, identityPublicKey: pk(alice) })).rejects(t, Rejection.noChange)
  given(admins).when(byDevice(bob, 'AdminReplaceUserKey', { userId: alice.userId, identityPublicKey: toBase64url(lost.publicKey) })).rejects(t, Rejection.notAdmin)
  given(admins).when(byDevice(root, 'AdminReplaceUserKey', { userId: frank.userId, identityPublicKey: toBase64url(lost.publicKey) })).rejects(t, Rejection.userNotFound)
  const gone = ev(stream(alice), 'AccountDeleted', { userId: alice.userId, by: alice.userId })
  given(admins, gone).when(replace).rejects(t, Rejection.userDeleted)
})

t.test('admin rights are judged at the ledger position of the command', async (t) => {
  const revoked = ev(stream(root), 'AdminRevoked', { userId: root.userId, by: alice.userId })
  given(admins, madeAdmin(alice)).and(Date.UTC(2026, 0, 1, 0, 0, 0, 500), revoked)
    .when(byDevice(root, 'AdminDisableUser', { userId: bob.userId })).rejects(t, Rejection.notAdmin)
})
