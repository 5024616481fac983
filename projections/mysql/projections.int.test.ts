// Given events, when projected, then these rows (real MariaDB, one database per test).
import t from 'tap'
import { EventLog, deviceId, threadId, userId } from '../testing/eventLog.ts'
import { project, rows } from '../testing/given.ts'
import { createTestDb } from '../testing/testDb.ts'

async function freshDb(t: { teardown(fn: () => unknown): void }) {
  const db = await createTestDb()
  t.teardown(() => db.drop())
  return db
}

t.test('accounts: registration, flags, keys, deletion', async (t) => {
  const log = new EventLog()
  log.register('alice')
  log.user('alice', 'EmailVerified', { encryptedEmailHash: 'x'.repeat(43) })
  log.user('alice', 'TotpEnrolled')
  log.user('alice', 'AdminGranted', { by: 'service:ingest' })
  log.user('alice', 'DeviceKeyRotated', { deviceId: deviceId('alice/1'), publicKey: 'P'.repeat(2603), issuedAt: 5, certificate: 'C', keyVersion: 1 })
  log.user('alice', 'DeviceKeyRotationDue', { deviceId: deviceId('alice/1'), keyVersion: 1 })
  log.register('bob')
  const revoked = log.user('bob', 'DeviceRevoked', { deviceId: deviceId('bob/1'), reason: 'self' })
  const deleted = log.user('bob', 'AccountDeleted', { by: userId('bob') })
  const conn = await project(await freshDb(t), log.events)
  t.teardown(() => conn.end())
  const [alice] = await rows(conn, 'SELECT username, email_verified, totp, admin, deleted FROM users WHERE user_id = ?', [userId('alice')])
  t.same(alice, { username: 'alice', email_verified: 1, totp: 1, admin: 1, deleted: 0 })
  const [bob] = await rows(conn, 'SELECT deleted, encrypted_email, position FROM users WHERE username = ?', ['bob'])
  t.same(bob, { deleted: 1, encrypted_email: null, position: deleted.position }, 'deleted user keeps no e-mail ciphertext; position names the event')
  const keys = await rows(conn, 'SELECT key_version, superseded_position IS NOT NULL AS superseded, rotation_due_position IS NOT NULL AS due FROM device_keys WHERE device_id = ? ORDER BY key_version', [deviceId('alice/1')])
  t.same(keys, [{ key_version: 0, superseded: 1, due: 0 }, { key_version: 1, superseded: 0, due: 1 }], 'key history')
  const [dev] = await rows(conn, 'SELECT key_version, rotation_due, revoked FROM devices WHERE device_id = ?', [deviceId('alice/1')])
  t.same(dev, { key_version: 1, rotation_due: 1, revoked: 0 })
  const [bobDev] = await rows(conn, 'SELECT revoked, revoked_reason, revoked_position FROM devices WHERE device_id = ?', [deviceId('bob/1')])
  t.same(bobDev, { revoked: 1, revoked_reason: 'self', revoked_position: revoked.position })
})

t.test('conversations: members, hidden threads, messages, unread counts', async (t) => {
  const log = new EventLog()
  for (const u of ['alice', 'bob', 'carol', 'dave']) log.register(u)
  log.createThread('project', 'alice', ['bob', 'carol'])
  log.thread('project', 'MemberAdded', 'alice', { userId: userId('dave'), by: userId('alice') })
  log.thread('project', 'MemberRemoved', 'alice', { userId: userId('carol'), by: userId('alice'), reason: 'removed' })
  log.user('bob', 'ThreadHidden', { threadId: threadId('project') })
  const m1 = log.post('project', 'alice', 'one')
  const m2 = log.post('project', 'dave', 'two', [{ blobId: 'cd'.repeat(32), ciphertextBytes: 2048, type: 'PDF' }])
  const m3 = log.post('project', 'alice', 'three')
  log.read('bob', 'project', m1)
  log.thread('project', 'MessageDeleted', 'alice', { messageId: m3, userId: userId('alice') })
  log.thread('project', 'MessageEdited', 'dave', { messageId: m2, userId: userId('dave'), deviceId: deviceId('dave/1'), epoch: 0, ciphertext: 'ZWRpdA' })
  const conn = await project(await freshDb(t), log.events, 3) // small batches: state crosses batch boundaries
  t.teardown(() => conn.end())
  const members = await rows(conn, 'SELECT user_id, active, left_reason FROM memberships WHERE thread_id = ? ORDER BY joined_position, user_id', [threadId('project')])
  t.equal(members.filter((m) => m['active'] === 1).length, 3, 'alice, bob, dave')
  t.same(members.find((m) => m['user_id'] === userId('carol')), { user_id: userId('carol'), active: 0, left_reason: 'removed' })
  const [thread] = await rows(conn, 'SELECT member_count, owner_id, last_activity_position FROM threads WHERE thread_id = ?', [threadId('project')])
  t.same(thread, { member_count: 3, owner_id: userId('alice'), last_activity_position: log.events.length - 1 })
  const [vis] = await rows(conn, 'SELECT hidden FROM thread_visibility WHERE user_id = ?', [userId('bob')])
  t.same(vis, { hidden: 1 })
  const msgs = await rows(conn, 'SELECT message_id, ciphertext, edited, deleted, attachment_count FROM messages WHERE thread_id = ? ORDER BY message_id', [threadId('project')])
  t.same(msgs, [
    { message_id: m1, ciphertext: Buffer.from('one').toString('base64url'), edited: 0, deleted: 0, attachment_count: 0 },
    { message_id: m2, ciphertext: 'ZWRpdA', edited: 1, deleted: 0, attachment_count: 1 },
    { message_id: m3, ciphertext: null, edited: 0, deleted: 1, attachment_count: 0 },
  ])
  const unread = Object.fromEntries((await rows<{ user_id: string; unread_count: number }>(conn,
    'SELECT user_id, unread_count FROM unread_counts WHERE thread_id = ?', [threadId('project')])).map((r) => [r.user_id, r.unread_count]))
  t.same(unread, { [userId('alice')]: 1, [userId('bob')]: 1, [userId('carol')]: 0, [userId('dave')]: 1 },
    'alice: dave\'s message; bob read m1, m3 deleted → m2; carol left; dave: m1 (m3 deleted)')
  const [att] = await rows(conn, 'SELECT blob_id, type, ciphertext_bytes FROM attachments WHERE message_id = ?', [m2])
  t.same(att, { blob_id: 'cd'.repeat(32), type: 'PDF', ciphertext_bytes: 2048 })
})
