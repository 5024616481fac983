// The live runner against real MariaDB and Redis: unread counters in Redis equal MySQL,
// notifications arrive after commit, and a rebuild (shadow tables + swap) gives the same rows.
import t from 'tap'
import { Redis } from 'ioredis'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { rebuild } from './rebuild.ts'
import { channels } from './redis/keys.ts'
import { unreadCounts } from './redis/unread.ts'
import { ProjectionRunner } from './runner.ts'
import { chatWorkload, threadId } from './testing/eventLog.ts'
import { createTestDb, tableDigest, testRedisPrefix } from './testing/testDb.ts'

const db = await createTestDb()
const prefix = testRedisPrefix()
const redis = new Redis('redis://127.0.0.1:6379')
const sub = new Redis('redis://127.0.0.1:6379')
t.teardown(async () => {
  const keys = await redis.keys(prefix + '*')
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
  sub.disconnect()
  await db.drop()
})

t.test('live: Redis counters mirror MySQL, notifications published, rebuild equals live', async (t) => {
  const events = chatWorkload(3000, { users: 12, threads: 6, seed: 7 })
  const source = new ArrayEventSource(events.slice(0, 1500))
  const received: { position: number }[] = []
  await sub.subscribe(channels.thread(prefix, threadId('t0')))
  sub.on('message', (_ch, msg: string) => received.push(JSON.parse(msg) as { position: number }))
  const stop = new AbortController()
  const runner = new ProjectionRunner({ source, connect: db.connect, projections: mysqlProjections, redis, redisPrefix: prefix, batchEvents: 250 })
  const running = runner.run(stop.signal)
  source.append(...events.slice(1500))
  for (let i = 0; i < 300 && (await runner.status()).lag > 0; i++) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 300))
  const status = await runner.status()
  t.same([status.position, status.lag, status.lastError], [2999, 0, null], 'caught up, no error')
  const conn = await db.connect()
  t.teardown(() => conn.end())
  const [rows] = await conn.query('SELECT user_id, thread_id, unread_count FROM unread_counts WHERE unread_count > 0') as unknown as [{ user_id: string; thread_id: string; unread_count: number }[]]
  t.ok(rows.length > 0, 'someone has unread messages')
  const users = [...new Set(rows.map((r) => r.user_id))]
  for (const u of users) {
    const expected = Object.fromEntries(rows.filter((r) => r.user_id === u).map((r) => [r.thread_id, r.unread_count]))
    t.same(await unreadCounts(redis, prefix, u), expected, `Redis counters of user ${users.indexOf(u)} equal MySQL`)
  }
  const t0 = events.filter((e) => e.stream === `thread:${threadId('t0')}`).map((e) => e.position)
  const got = new Set(received.map((m) => m.position))
  t.ok(t0.every((p) => got.has(p)), `every t0 event was published (${t0.length})`)
  const tables = mysqlProjections.flatMap((p) => p.tables)
  const live = await tableDigest(conn, tables)
  const r = await rebuild({ source, connect: db.connect, projections: mysqlProjections, redis, redisPrefix: prefix })
  t.equal(r.events, 3000)
  t.same(await tableDigest(conn, tables), live, 'rebuilt tables equal the live ones')
  for (const u of users.slice(0, 3)) {
    t.same(await unreadCounts(redis, prefix, u), Object.fromEntries(rows.filter((x) => x.user_id === u).map((x) => [x.thread_id, x.unread_count])), 'new Redis generation equals MySQL')
  }
  stop.abort()
  await running
  await runner.close()
})
