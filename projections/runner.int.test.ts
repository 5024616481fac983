// The live runner against real MariaDB and Redis: unread counters in Redis equal MySQL,
// notifications arrive after commit, and a rebuild (shadow tables + swap) gives the same rows.
import t from 'tap'
import { Redis } from 'ioredis'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { rebuild } from './rebuild.ts'
import { channels } from './redis/keys.ts'
import { rebuildUnread, unreadCounts } from './redis/unread.ts'
import { positionChannel, ProjectionRunner } from './runner.ts'
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

t.test('live, block by block: one MySQL round trip for the writes and the COMMIT, Redis in step after every batch, a generation swap mid-run, then a backlog', async (t) => {
  const p2 = testRedisPrefix()
  t.teardown(async () => {
    const keys = await redis.keys(p2 + '*')
    if (keys.length > 0) await redis.del(...keys)
  })
  const db2 = await createTestDb()
  t.teardown(() => db2.drop())
  const events = chatWorkload(700, { users: 8, threads: 4, seed: 11 })
  const blocks = 600 // then a backlog of 100
  const source = new ArrayEventSource(events.slice(0, 50))
  const listener = new Redis('redis://127.0.0.1:6379')
  t.teardown(() => listener.disconnect())
  const seen: number[] = []
  let noticed = -1
  await listener.psubscribe(`${p2}thread:*`, `${p2}user:*`)
  await listener.subscribe(positionChannel(p2))
  listener.on('pmessage', (_p, _ch, msg: string) => {
    const m = JSON.parse(msg) as { kind: string; position: number; stream?: string }
    if (m.kind === 'event' && _ch === `${p2}${m.stream}`) seen.push(m.position) // on its own stream's channel: once per event
  })
  listener.on('message', (_ch, msg: string) => { noticed = Number(msg) })
  const queries: string[] = []
  const connect = async () => {
    const c = await db2.connect()
    const query = c.query.bind(c)
    c.query = ((sql: unknown, ...rest: unknown[]) => {
      queries.push(typeof sql === 'string' ? sql : 'other')
      return (query as (...a: unknown[]) => unknown)(sql, ...rest)
    }) as typeof c.query
    return c
  }
  const stop = new AbortController()
  const runner = new ProjectionRunner({ source, connect, projections: mysqlProjections, redis, redisPrefix: p2, batchEvents: 4 })
  const running = runner.run(stop.signal)
  const caughtUp = async (position: number) => {
    for (let i = 0; i < 400 && noticed < position; i++) await new Promise((r) => setTimeout(r, 10))
    t.equal(noticed, position, `position notice for ${position}`)
  }
  await caughtUp(49) // 13 batches of 4
  const conn = await db2.connect()
  t.teardown(() => conn.end())
  const redisEqualsMysql = async (what: string) => {
    const [rows] = await conn.query('SELECT user_id, thread_id, unread_count FROM unread_counts') as unknown as [{ user_id: string; thread_id: string; unread_count: number }[]]
    const users = [...new Set(rows.map((r) => r.user_id))]
    const mismatched: string[] = []
    const sorted = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort())
    for (const u of users) {
      const expected = Object.fromEntries(rows.filter((r) => r.user_id === u && r.unread_count > 0).map((r) => [r.thread_id, r.unread_count]))
      if (sorted(await unreadCounts(redis, p2, u)) !== sorted(expected)) mismatched.push(u)
    }
    t.same(mismatched, [], `${what}: Redis unread counters equal MySQL`)
  }
  let batches = 0
  const kind = (q: string) => q.startsWith('START TRANSACTION;') ? 'begin' : /;\s*COMMIT;\s*START TRANSACTION;/.test(q) ? 'writes+commit+begin' : /;\s*COMMIT$/.test(q) ? 'writes+commit' : /^\(?SELECT/.test(q) ? 'read' : q === 'ROLLBACK' ? 'idle' : q
  const odd: string[] = []
  for (let at = 50, i = 0; at < blocks; i++) {
    const n = 1 + (i % 4) // blocks of 1–4 events, as consensus commits them
    source.append(...events.slice(at, at + n))
    at += n
    const before = queries.length
    await caughtUp(at - 1)
    // begin + checkpoints, the projections' prefetch reads, the writes with the unread rows and the COMMIT
    const kinds = queries.slice(before).map(kind)
    const shape = kinds.filter((k) => k !== 'read' && k !== 'idle').join()
    if (shape !== 'begin,writes+commit' && shape !== 'begin,writes+commit,begin') odd.push(`${at - 1}: ${kinds.join()}`)
    batches++
    if (i === 40) {
      await redisEqualsMysql('before the swap')
      await rebuildUnread(conn, redis, p2) // what `zixt projections rebuild` does to the mirror, under the live runner
    }
    if (i % 50 === 0) await redisEqualsMysql(`after position ${at - 1}`)
  }
  await redisEqualsMysql('after the blocks')
  // behind: 100 events at once, taken 4 by 4; each COMMIT's query begins the next transaction
  const before = queries.length
  source.append(...events.slice(blocks))
  await caughtUp(events.length - 1)
  const kinds = queries.slice(before).map(kind)
  t.same([kinds.filter((k) => k === 'begin').length, kinds.filter((k) => k === 'writes+commit+begin').length, kinds.filter((k) => k === 'writes+commit').length], [1, 24, 1],
    'behind by 25 batches: one separate begin, 24 COMMITs that began the next transaction, the last COMMIT alone')
  await redisEqualsMysql('at the head')
  t.same(odd.slice(0, 5), [], `every block (${batches}) took one query to begin and read the checkpoints and one for all its writes, the unread rows and the COMMIT (besides the prefetch reads)`)
  const expected = events.filter((e) => e.stream.startsWith('thread:') || e.stream.startsWith('user:')).map((e) => e.position)
  t.same(seen, expected, 'every event published once, in position order, on its stream channel')
  stop.abort()
  await running
  await runner.close()
})
