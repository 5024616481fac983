// The read side as the web uses it, over rows the real runner projected into MariaDB: a
// user's threads by last activity with unread counts, keyset message pages both ways,
// lookups by username / user id / device id, key packages.
import t from 'tap'
import { EventLog, deviceId, threadId, userId } from '../testing/eventLog.ts'
import { project } from '../testing/given.ts'
import { createTestDb } from '../testing/testDb.ts'
import { getDevice, getUser, getUserByUsername, listDevices, listUsers } from './accounts.ts'
import { getMessage, getThread, listMembers, listMessages, listThreadsForUser } from './conversations.ts'
import { countUnclaimedKeyPackages, getKeyPackage } from './keyPackages.ts'
import { projectionPositions } from './status.ts'

const log = new EventLog()
for (const u of ['alice', 'bob', 'carol']) log.register(u)
log.createThread('t1', 'alice', ['bob'])
log.createThread('t2', 'alice', ['bob', 'carol'])
log.createThread('t3', 'bob', ['carol']) // alice is not a member
log.nextBlock()
const t1Posts: number[] = []
for (let i = 0; i < 7; i++) t1Posts.push(log.post('t1', i % 2 === 0 ? 'bob' : 'alice', `m${i}`, i === 3 ? [{ blobId: 'b'.repeat(64), ciphertextBytes: 10, type: 'PNG' }] : []))
log.read('alice', 't1', t1Posts[1]!) // alice read up to m1: m2, m4, m6 by bob are unread
log.nextBlock()
log.post('t2', 'carol', 'newest') // t2 becomes alice's most recent thread
log.post('t3', 'carol', 'not for alice')
log.user('alice', 'KeyPackagesPublished', {
  deviceId: deviceId('alice/1'),
  keyPackages: [{ ref: 'ref1', keyPackage: 'KP1' }, { ref: 'ref2', keyPackage: 'KP2' }, { ref: 'ref3', keyPackage: 'KP3' }],
  lastResort: { ref: 'refLR', keyPackage: 'KPLR' },
})
log.user('alice', 'KeyPackageClaimed', { deviceId: deviceId('alice/1'), ref: 'ref2', claimedBy: userId('bob'), claimedByDevice: deviceId('bob/1') })

const db = await createTestDb()
t.teardown(() => db.drop())
const conn = await project(db, log.events, 5) // small batches: activity and counts across batch edges
t.teardown(() => conn.end())

t.test('a user\'s threads, newest activity first, with unread counts and keyset paging', async (t) => {
  const threads = await listThreadsForUser(conn, userId('alice'), { limit: 10 })
  t.same(threads.map((x) => x.threadId), [threadId('t2'), threadId('t1')], 'member threads only, newest activity first')
  t.same(threads.map((x) => x.unreadCount), [1, 3], 'unread: t2 carol\'s message; t1 bob\'s m2, m4, m6')
  t.equal(threads[1]!.readPosition, t1Posts[1], 'read mark')
  t.equal(threads[1]!.hidden, false)
  t.ok(threads[0]!.lastActivityPosition > threads[1]!.lastActivityPosition)
  const page2 = await listThreadsForUser(conn, userId('alice'), { limit: 1, beforeActivity: threads[0]!.lastActivityPosition })
  t.same(page2.map((x) => x.threadId), [threadId('t1')], 'next page starts below the last activity seen')
  t.same((await listThreadsForUser(conn, userId('bob'), { limit: 10 })).map((x) => x.unreadCount), [1, 1, 3], 'bob: t3 and t2 one each, t1 alice\'s m1, m3, m5')
})

t.test('a thread\'s messages, keyset pages in both directions', async (t) => {
  const newest = await listMessages(conn, threadId('t1'), { limit: 3 })
  t.same(newest.map((m) => m.messageId), [t1Posts[6], t1Posts[5], t1Posts[4]], 'latest page, newest first')
  const older = await listMessages(conn, threadId('t1'), { before: newest[2]!.messageId, limit: 3 })
  t.same(older.map((m) => m.messageId), [t1Posts[3], t1Posts[2], t1Posts[1]], 'before: the page below, newest first')
  t.same(older[0]!.attachments.map((a) => [a.idx, a.blobId]), [[0, 'b'.repeat(64)]], 'attachments come with their message')
  const oldest = await listMessages(conn, threadId('t1'), { before: older[2]!.messageId, limit: 3 })
  t.same(oldest.map((m) => m.messageId), [t1Posts[0]], 'last page is short')
  const forward = await listMessages(conn, threadId('t1'), { after: t1Posts[1]!, limit: 4 })
  t.same(forward.map((m) => m.messageId), t1Posts.slice(2, 6), 'after: oldest first above it')
  t.same(await listMessages(conn, threadId('t1'), { after: t1Posts[6]!, limit: 4 }), [], 'nothing after the newest')
  const m = await getMessage(conn, t1Posts[0]!)
  t.same([m?.threadId, m?.userId, m?.ciphertext, m?.deleted], [threadId('t1'), userId('bob'), Buffer.from('m0').toString('base64url'), false])
  t.equal(await getMessage(conn, 999_999), null)
  t.equal((await getThread(conn, threadId('t2')))?.memberCount, 3)
  t.same((await listMembers(conn, threadId('t1'))).map((x) => x.userId), [userId('alice'), userId('bob')].sort(), 'active members (same join position: by user id)')
})

t.test('lookups by username, user id and device id', async (t) => {
  const byName = await getUserByUsername(conn, 'bob')
  t.equal(byName?.userId, userId('bob'))
  t.equal(await getUserByUsername(conn, 'Bob'), null, 'usernames are case-sensitive (utf8mb4_bin)')
  t.equal(await getUserByUsername(conn, 'nobody'), null)
  const byId = await getUser(conn, userId('carol'))
  t.same([byId?.username, byId?.deleted, byId?.admin], ['carol', false, false], 'booleans are booleans')
  t.equal(await getUser(conn, userId('nobody')), null)
  const dev = await getDevice(conn, deviceId('alice/1'))
  t.same([dev?.userId, dev?.revoked, dev?.keyVersion], [userId('alice'), false, 0])
  t.equal(await getDevice(conn, deviceId('nobody/1')), null)
  t.same((await listDevices(conn, userId('alice'))).map((d) => d.deviceId), [deviceId('alice/1')])
  const page = await listUsers(conn, { limit: 2 })
  t.equal(page.length, 2)
  t.equal((await listUsers(conn, { limit: 5, after: page[1]!.userId })).length, 1, 'admin list pages by user id')
})

t.test('key packages: by ref, unclaimed count excludes claimed and last resort', async (t) => {
  const kp = await getKeyPackage(conn, deviceId('alice/1'), 'ref2')
  t.same([kp?.keyPackage, kp?.claimedBy, kp?.claimCount, kp?.lastResort], ['KP2', userId('bob'), 1, false])
  t.equal((await getKeyPackage(conn, deviceId('alice/1'), 'refLR'))?.lastResort, true)
  t.equal(await getKeyPackage(conn, deviceId('alice/1'), 'nope'), null)
  t.equal(await countUnclaimedKeyPackages(conn, deviceId('alice/1')), 2)
  t.equal(await countUnclaimedKeyPackages(conn, deviceId('bob/1')), 0)
  const last = log.events.length - 1
  t.same(await projectionPositions(conn), { accounts: last, conversations: last, keyPackages: last })
})
