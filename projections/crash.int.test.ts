// SIGKILL the projector (a child process running the live runner with the Redis mirror)
// at seeded random moments, ≥ 20 times, while the test keeps growing the ledger under it;
// restart it each time. Then the read model must equal a fresh rebuild into another
// database (per-table digests), the Redis counters must equal MySQL, and no event may be
// double-applied or skipped: message rows and unread counts exact.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { mysqlProjections } from './mysql/index.ts'
import { unreadCounts } from './redis/unread.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { project } from './testing/given.ts'
import { createTestDb, tableDigest, testRedisPrefix } from './testing/testDb.ts'

const SEED = 20261122
const KILLS = 22
const START_EVENTS = 5000
const EVENTS_MAX = 8000
const dir = mkdtempSync(join(tmpdir(), 'zixt-crash-'))
const headFile = join(dir, 'head')
const db = await createTestDb()
const fresh = await createTestDb()
const prefix = testRedisPrefix()
const redis = new Redis('redis://127.0.0.1:6379')
t.teardown(async () => {
  const keys = await redis.keys(prefix + '*')
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
  await db.drop()
  await fresh.drop()
  rmSync(dir, { recursive: true, force: true })
})

let s = SEED
const rnd = (n: number): number => {
  s = (Math.imul(s, 1103515245) + 12345) >>> 0
  return (s >>> 8) % n
}
let head = 0
function setHead(n: number): void {
  head = Math.min(n, EVENTS_MAX)
  writeFileSync(headFile + '.tmp', String(head))
  renameSync(headFile + '.tmp', headFile) // the child never reads a half-written number
}

type Child = { proc: ChildProcess; ready: Promise<void>; exited: Promise<number | null>; lines: string[] }
function startProjector(): Child {
  const proc = spawn(process.execPath, [join(import.meta.dirname, 'testing', 'projectorChild.ts')], {
    env: { ...process.env, ZIXT_MYSQL_URL: db.url, ZIXT_REDIS_PREFIX: prefix, HEAD_FILE: headFile, EVENTS_MAX: String(EVENTS_MAX), SEED: String(SEED), BATCH_EVENTS: '150' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines: string[] = []
  let onReady: () => void = () => {}
  const ready = new Promise<void>((r) => (onReady = r))
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      lines.push(line)
      if (line === 'ready') onReady()
    }
  })
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => { onReady(); r(code) }))
  return { proc, ready, exited, lines }
}

async function checkpoints(): Promise<number[]> {
  const conn = await db.connect()
  try {
    const [rows] = await conn.query('SELECT (SELECT position FROM checkpoint_accounts) a, (SELECT position FROM checkpoint_conversations) c, (SELECT position FROM checkpoint_key_packages) k') as unknown as [Record<string, number>[]]
    return [rows[0]!['a']!, rows[0]!['c']!, rows[0]!['k']!].map(Number)
  } finally {
    await conn.end()
  }
}

t.test(`${KILLS} SIGKILLs under load, then the read model equals a fresh rebuild`, async (t) => {
  setHead(START_EVENTS)
  const seen: number[] = []
  for (let k = 0; k < KILLS; k++) {
    const child = startProjector()
    await child.ready
    // grow the ledger while it projects: a few hundred events at random moments
    const grow = setInterval(() => setHead(head + 5 + rnd(20)), 20 + rnd(20))
    await new Promise((r) => setTimeout(r, 30 + rnd(400)))
    child.proc.kill('SIGKILL')
    clearInterval(grow)
    t.equal(await child.exited, null, `kill ${k + 1}: the projector died by SIGKILL`)
    seen.push(Math.min(...(await checkpoints())))
  }
  t.ok(seen.some((p, i) => i > 0 && p > seen[i - 1]!), `progress between kills (checkpoints ${seen.join(', ')})`)
  t.ok(seen.filter((p) => p < head - 1).length >= KILLS / 2, 'most kills landed before the projector caught up (mid-run)')

  setHead(EVENTS_MAX) // the last run catches up with everything
  const last = startProjector()
  await last.ready
  const redisCheckpoint = async (): Promise<number> => {
    const gen = (await redis.get(prefix + 'unread:gen')) ?? '1'
    return Number((await redis.get(`${prefix}unread:${gen}:checkpoint`)) ?? -1)
  }
  for (let i = 0; i < 600; i++) {
    if (Math.min(...(await checkpoints())) === EVENTS_MAX - 1 && (await redisCheckpoint()) === EVENTS_MAX - 1) break
    await new Promise((r) => setTimeout(r, 100))
  }
  last.proc.kill('SIGTERM')
  t.equal(await last.exited, 0, 'clean stop on SIGTERM')
  t.same(await checkpoints(), [EVENTS_MAX - 1, EVENTS_MAX - 1, EVENTS_MAX - 1], 'every projection at the head')
  t.equal(await redisCheckpoint(), EVENTS_MAX - 1, 'Redis mirror at the head')

  const events = chatWorkload(EVENTS_MAX, { users: 30, threads: 12, seed: SEED })
  const rebuilt = await project(fresh, events, 1000) // one uninterrupted run into another database
  t.teardown(() => rebuilt.end())
  const conn = await db.connect()
  t.teardown(() => conn.end())
  const tables = mysqlProjections.flatMap((p) => p.tables)
  const got = await tableDigest(conn, tables)
  const want = await tableDigest(rebuilt, tables)
  for (const table of tables) t.equal(got[table], want[table], `table ${table} equals the fresh rebuild`)

  const [[m]] = await conn.query('SELECT COUNT(*) n, COUNT(DISTINCT message_id) d FROM messages') as unknown as [{ n: number; d: number }[]]
  const posted = events.filter((e) => e.type === 'MessagePosted').length
  t.same([Number(m!.n), Number(m!.d)], [posted, posted], `every MessagePosted is one message row (${posted})`)
  const [rows] = await rebuilt.query('SELECT user_id, thread_id, unread_count FROM unread_counts WHERE unread_count > 0') as unknown as [{ user_id: string; thread_id: string; unread_count: number }[]]
  t.ok(rows.length > 10, `unread counters to compare (${rows.length})`)
  const users = [...new Set(rows.map((r) => r.user_id))]
  let equal = 0
  for (const u of users) {
    const want = Object.fromEntries(rows.filter((r) => r.user_id === u).map((r) => [r.thread_id, r.unread_count]))
    if (JSON.stringify(Object.entries(await unreadCounts(redis, prefix, u)).sort()) === JSON.stringify(Object.entries(want).sort())) equal++
  }
  t.equal(equal, users.length, `Redis unread counters of all ${users.length} users equal the fresh rebuild`)
})
