// Redis runs without persistence: a restart wipes the publish checkpoint and the unread
// mirror. The runner must not republish the whole ledger (nobody subscribed before the
// restart can receive those notifications) nor copy every unread row in one go; it goes on
// projecting and publishing new events at once and refills the mirror in pages.
import t from 'tap'
import { Redis } from 'ioredis'
import type { Connection } from 'mysql2/promise'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { redisKeys } from './redis/keys.ts'
import { mirrorUnread, unreadCounts, unreadMirrorState } from './redis/unread.ts'
import { positionChannel, ProjectionRunner } from './runner.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { project, rows } from './testing/given.ts'
import { createTestDb, testRedisPrefix } from './testing/testDb.ts'
import { runInBackground } from './testing/background.ts'

const redis = new Redis('redis://127.0.0.1:6379')
const prefixes: string[] = []
const dbs: { drop(): Promise<void> }[] = []
t.teardown(async () => {
  for (const p of prefixes) await wipe(p)
  redis.disconnect()
  for (const d of dbs) await d.drop()
})

/** What a Redis restart without persistence does to the prefix. */
async function wipe(prefix: string): Promise<void> {
  const keys = await redis.keys(prefix + '*')
  if (keys.length > 0) await redis.del(...keys)
}

const until = async (what: string, ok: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for: ${what}`)
}

type UnreadTable = { user_id: string; thread_id: string; unread_count: number; position: number }[]

/** Users whose Redis counters differ from unread_counts (only rows with position ≤ upTo, when given). */
async function mismatched(conn: Connection, prefix: string, upTo = Infinity): Promise<string[]> {
  const table = await rows<UnreadTable[number]>(conn, 'SELECT user_id, thread_id, unread_count, position FROM unread_counts')
  const out: string[] = []
  for (const u of new Set(table.map((r) => r.user_id))) {
    const got = await unreadCounts(redis, prefix, u)
    for (const r of table.filter((x) => x.user_id === u && Number(x.position) <= upTo)) {
      if ((got[r.thread_id] ?? 0) !== r.unread_count) out.push(`${u}/${r.thread_id}`)
    }
  }
  return out
}

t.test('after Redis lost the prefix, a restarted runner publishes no old event, projects and publishes a new one at once, and refills the unread counts', async (t) => {
  const db = await createTestDb()
  dbs.push(db)
  const prefix = testRedisPrefix()
  prefixes.push(prefix)
  const events = chatWorkload(5000, { users: 24, threads: 10, seed: 17 })
  const k = events.findLastIndex((e) => e.type === 'MessagePosted') // the "new" event
  const source = new ArrayEventSource(events.slice(0, k))
  const first = new ProjectionRunner({ source, connect: db.connect, projections: mysqlProjections, redis, redisPrefix: prefix, batchEvents: 500 })
  const stopFirst = runInBackground(first)
  await until('the first runner caught up', async () => (await first.status()).position === k - 1 && Number(await redis.get(redisKeys.publishCheckpoint(prefix))) === k - 1)
  await stopFirst()
  const conn = await db.connect()
  t.teardown(() => conn.end())
  t.same(await mismatched(conn, prefix), [], 'before: Redis counters equal MySQL')

  await wipe(prefix) // Redis restarted, empty
  const listener = new Redis('redis://127.0.0.1:6379')
  t.teardown(() => listener.disconnect())
  const old: number[] = []
  const fresh: number[] = []
  let unreadNotices = 0
  await listener.psubscribe(`${prefix}thread:*`, `${prefix}user:*`, `${prefix}accounts`)
  listener.on('pmessage', (_p, _ch, msg: string) => {
    const m = JSON.parse(msg) as { kind: string; position: number }
    if (m.kind === 'unread') unreadNotices++
    else (m.position < k ? old : fresh).push(m.position)
  })
  let noticed = -1
  await listener.subscribe(positionChannel(prefix))
  listener.on('message', (_ch, msg: string) => { noticed = Number(msg) })
  const logs: string[] = []
  const second = new ProjectionRunner({ source, connect: db.connect, projections: mysqlProjections, redis, redisPrefix: prefix, batchEvents: 500, log: (l) => logs.push(l) })
  t.teardown(runInBackground(second))
  await until('the restarted runner announced its position', () => noticed === k - 1)
  const appended = Date.now()
  source.append(...events.slice(k))
  await until('the new event was published', () => fresh.includes(k), 5000)
  const ms = Date.now() - appended
  t.ok(ms < 2000, `the new event was projected and published promptly (${ms} ms)`)
  await until('caught up', () => noticed === events.length - 1)
  await new Promise((r) => setTimeout(r, 200)) // stray republished notifications would arrive by now
  t.same(old, [], 'no event from before the Redis restart was published again')
  t.same(fresh, [...new Set(fresh)].sort((a, b) => a - b), 'new events published once each, in order')
  t.equal(logs.filter((l) => /publish checkpoint/.test(l)).length, 1, `one log line says so: ${logs[0]}`)
  t.equal(Number(await redis.get(redisKeys.publishCheckpoint(prefix))), events.length - 1, 'the publish checkpoint is at the head')
  t.same(await mismatched(conn, prefix), [], 'after: Redis unread counters equal MySQL')
  t.equal((await unreadMirrorState(redis, prefix)).checkpoint, events.length - 1, 'the mirror checkpoint is at the head')
  const changedSince = await rows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM unread_counts WHERE position >= ?', [k])
  t.ok(unreadNotices <= Number(changedSince[0]!.n), `unread notifications only for rows the new events changed (${unreadNotices})`)
  t.equal((await second.status()).lastError, null, 'no error')
})

t.test('a mirror copied from scratch in small pages: every page ends on a position boundary, one position larger than a page still advances', async (t) => {
  const db = await createTestDb()
  dbs.push(db)
  const prefix = testRedisPrefix()
  prefixes.push(prefix)
  const events = chatWorkload(1500, { users: 16, threads: 8, seed: 23 })
  const conn = await project(db, events, 300)
  t.teardown(() => conn.end())
  const [shared] = await rows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM (SELECT position FROM unread_counts GROUP BY position HAVING COUNT(*) > 1) x')
  t.ok(Number(shared!.n) > 0, `some positions hold several rows (${shared!.n}): more than a page`)
  const upTo = events.length - 1
  let calls = 0
  let copied = 0
  const broken: string[] = []
  for (let checkpoint = -1; checkpoint < upTo && calls < 10_000; calls++) {
    const { rows: page, mirror } = await mirrorUnread(conn, redis, prefix, 'unread_counts', upTo, { pageRows: 1, pagesMax: 1 })
    if (mirror === null) {
      broken.push(`call ${calls}: generation swapped`)
      break
    }
    // a page of one row, or all the rows of one position (one copied in chunks)
    if (new Set(page.map((r) => Number(r.position))).size > 1) broken.push(`call ${calls}: ${page.length} rows of several positions`)
    checkpoint = mirror.checkpoint
    copied += page.length
    const off = await mismatched(conn, prefix, checkpoint)
    if (off.length > 0) broken.push(`after checkpoint ${checkpoint}: ${off.length} rows of positions up to it missing`)
  }
  t.same(broken.slice(0, 5), [], 'one page per call, and the checkpoint never claims a position whose rows are not all copied')
  const [all] = await rows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM unread_counts')
  t.equal(copied, Number(all!.n), 'every row copied once')
  t.equal((await unreadMirrorState(redis, prefix)).checkpoint, upTo, 'the mirror reached the last position')
  t.same(await mismatched(conn, prefix), [], 'Redis unread counters equal MySQL')
})

t.test('a publish checkpoint far behind is caught up a bounded amount per round: the position notice (and the next batch) do not wait for all of it', async (t) => {
  const db = await createTestDb()
  dbs.push(db)
  const prefix = testRedisPrefix()
  prefixes.push(prefix)
  const events = chatWorkload(12_500, { users: 20, threads: 8, seed: 29 })
  const conn = await project(db, events, 2500)
  t.teardown(() => conn.end())
  await redis.set(redisKeys.publishCheckpoint(prefix), '-1') // e.g. Redis kept an old snapshot
  const listener = new Redis('redis://127.0.0.1:6379')
  t.teardown(() => listener.disconnect())
  const published = new Set<number>()
  let atFirstNotice = -1
  await listener.psubscribe(`${prefix}thread:*`, `${prefix}user:*`, `${prefix}accounts`, `${prefix}projections:position`)
  listener.on('pmessage', (_p, ch: string, msg: string) => {
    if (ch === positionChannel(prefix)) {
      if (atFirstNotice < 0) atFirstNotice = published.size
      return
    }
    const m = JSON.parse(msg) as { kind: string; position: number }
    if (m.kind === 'event') published.add(m.position)
  })
  const runner = new ProjectionRunner({ source: new ArrayEventSource([...events]), connect: db.connect, projections: mysqlProjections, redis, redisPrefix: prefix })
  t.teardown(runInBackground(runner))
  await until('every event republished', () => published.size === events.length)
  t.ok(atFirstNotice > 0 && atFirstNotice <= 10_000, `the first round published ${atFirstNotice} of ${events.length} events before the position notice`)
  t.equal(Number(await redis.get(redisKeys.publishCheckpoint(prefix))), events.length - 1, 'then the rest: the publish checkpoint is at the head')
})
