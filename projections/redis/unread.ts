// Unread counters in Redis mirror the MySQL table unread_counts: rows changed after the
// Redis checkpoint are copied with the new checkpoint in one script, a page of rows at a time
// (idempotent: values are absolute). A rebuild fills a new generation and swaps the
// `unread:gen` pointer.
import type { Connection } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import { redisKeys } from './keys.ts'
import { execAll } from './pipeline.ts'

export type UnreadRow = { user_id: string; thread_id: string; unread_count: number; position: number }

const COPY_ROWS_MAX = 10_000 // per EVAL or MULTI, and per SELECT
const COPY_PAGES_PER_CALL = 5 // a mirror far behind catches up over several rounds: the runner's batches go on meanwhile

/** The current generation, created ('1') if there is none. */
export async function unreadGeneration(redis: Redis, prefix: string): Promise<string> {
  await redis.set(redisKeys.unreadGen(prefix), '1', 'NX')
  return (await redis.get(redisKeys.unreadGen(prefix))) ?? '1'
}

/** Where the live mirror stands: its generation and the position it holds rows up to. */
export type UnreadMirror = { readonly gen: string; readonly checkpoint: number }

/** The current generation (created '1' if there is none) and its checkpoint (−1: empty). */
export async function unreadMirrorState(redis: Redis, prefix: string): Promise<UnreadMirror> {
  const gen = await unreadGeneration(redis, prefix)
  return { gen, checkpoint: Number((await redis.get(redisKeys.unreadCheckpoint(prefix, gen))) ?? -1) }
}

/** The rows the mirror lacks (params: checkpoint, upTo); inside the batch's transaction it sees that batch's rows. */
export function unreadRowsSql(table: string): string {
  return `SELECT user_id, thread_id, unread_count, position FROM ${table} WHERE position > ? AND position <= ? ORDER BY position`
}

// Atomic: the rows and the new checkpoint land only in the generation the caller read, and
// only if its checkpoint did not move since (a rebuild swapping the pointer, another copy).
// A script instead of WATCH/MULTI: the connection is shared with the web, whose own MULTIs
// would end a WATCH early.
const COPY_SCRIPT = `
local gen = redis.call('GET', KEYS[1]) or '1'
if gen ~= ARGV[1] then return 0 end
local cp = tonumber(redis.call('GET', KEYS[2]) or '-1')
if cp ~= tonumber(ARGV[2]) then return 0 end
for i = 3, #KEYS do
  local field, count = ARGV[2 * i - 2], ARGV[2 * i - 1]
  if tonumber(count) > 0 then redis.call('HSET', KEYS[i], field, count) else redis.call('HDEL', KEYS[i], field) end
end
redis.call('SET', KEYS[2], ARGV[3])
return 1`

type Queue = { eval(script: string, numKeys: number, ...args: string[]): unknown }

/**
 * Queues (on a pipeline) the copy of `rows` — unread_counts rows with m.checkpoint < position
 * ≤ upTo — into generation m.gen, moving its checkpoint to upTo. The queued EVAL answers 1, or 0
 * when the generation or its checkpoint moved meanwhile (then nothing was written).
 */
export function queueUnreadCopy(pipe: Queue, prefix: string, m: UnreadMirror, upTo: number, rows: readonly UnreadRow[]): void {
  const keys = [redisKeys.unreadGen(prefix), redisKeys.unreadCheckpoint(prefix, m.gen), ...rows.map((r) => redisKeys.unreadHash(prefix, m.gen, r.user_id))]
  const args = [m.gen, String(m.checkpoint), String(upTo), ...rows.flatMap((r) => [r.thread_id, String(r.unread_count)])]
  pipe.eval(COPY_SCRIPT, keys.length, ...keys, ...args)
}

/**
 * Copies unread_counts rows with checkpoint < position ≤ upTo into the current generation, in
 * pages of up to `pageRows` rows, at most `pagesMax` pages per call (a new or wiped mirror
 * starts from −1: the whole table, over several calls). One event updates many rows, all at
 * its position, and the checkpoint claims every row up to it: a page ends on a position
 * boundary; a position with more rows than a page is copied in chunks that leave the
 * checkpoint where it was, then the last one moves it past that position.
 * Returns the rows copied (for live `unread` notifications) and the mirror's state after the
 * copy (checkpoint < upTo: call again; null when a rebuild swapped the generation meanwhile:
 * the next round copies into it).
 */
export async function mirrorUnread(conn: Connection, redis: Redis, prefix: string, table: string, upTo: number, o: { pageRows?: number; pagesMax?: number } = {}): Promise<{ rows: UnreadRow[]; mirror: UnreadMirror | null }> {
  const pageRows = o.pageRows ?? COPY_ROWS_MAX
  const pagesMax = o.pagesMax ?? COPY_PAGES_PER_CALL
  let m = await unreadMirrorState(redis, prefix)
  const copied: UnreadRow[] = []
  let split: { position: number; after: [string, string] } | null = null // the position being copied in chunks
  // a split position is finished even past pagesMax: the next call would start it over
  for (let page = 0; (m.checkpoint < upTo && page < pagesMax) || split !== null; page++) {
    let rows: UnreadRow[] = []
    let to = upTo
    if (split === null) {
      ;[rows] = await conn.query(`${unreadRowsSql(table)} LIMIT ?`, [m.checkpoint, upTo, pageRows + 1]) as unknown as [UnreadRow[]]
      if (rows.length > pageRows) {
        const cut = Number(rows[pageRows]!.position) // its rows may go on past this page
        rows = rows.filter((r) => Number(r.position) < cut)
        to = cut - 1
        if (rows.length === 0) split = { position: cut, after: ['', ''] }
      }
    }
    if (split !== null) {
      ;[rows] = await conn.query(
        `SELECT user_id, thread_id, unread_count, position FROM ${table} WHERE position = ? AND (user_id, thread_id) > (?, ?) ORDER BY user_id, thread_id LIMIT ?`,
        [split.position, split.after[0], split.after[1], pageRows + 1],
      ) as unknown as [UnreadRow[]]
      const more = rows.length > pageRows
      rows = rows.slice(0, pageRows)
      to = more ? m.checkpoint : split.position
      split = more ? { position: split.position, after: [rows.at(-1)!.user_id, rows.at(-1)!.thread_id] } : null
    }
    const pipe = redis.pipeline()
    queueUnreadCopy(pipe, prefix, m, to, rows)
    const [done] = await execAll(pipe)
    if (done !== 1) return { rows: copied, mirror: null }
    copied.push(...rows)
    m = { gen: m.gen, checkpoint: to }
  }
  return { rows: copied, mirror: m }
}

/**
 * Fills a new generation from a consistent snapshot of unread_counts and its checkpoint,
 * swaps the pointer, then deletes the old generation's keys.
 */
export async function rebuildUnread(conn: Connection, redis: Redis, prefix: string, onProgress?: (rows: number) => void): Promise<{ gen: string; rows: number; position: number }> {
  const old = await unreadGeneration(redis, prefix)
  const gen = String(Math.max(Number(old) + 1, await redis.incr(redisKeys.unreadGenSeq(prefix))))
  await deleteGeneration(redis, prefix, gen) // leftovers of an interrupted rebuild
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
  let rows = 0
  let position = -1
  try {
    const [cp] = await conn.query('SELECT position FROM checkpoint_conversations WHERE id = 1') as unknown as [{ position: number }[]]
    position = Number(cp[0]?.position ?? -1)
    let after: [string, string] = ['', '']
    for (;;) {
      const [chunk] = await conn.query(
        'SELECT user_id, thread_id, unread_count FROM unread_counts WHERE (user_id, thread_id) > (?, ?) AND unread_count > 0 ORDER BY user_id, thread_id LIMIT ?',
        [after[0], after[1], COPY_ROWS_MAX],
      ) as unknown as [UnreadRow[]]
      if (chunk.length === 0) break
      const m = redis.multi()
      for (const r of chunk) m.hset(redisKeys.unreadHash(prefix, gen, r.user_id), r.thread_id, String(r.unread_count))
      await execAll(m) // a failed chunk must not end in a swap to a generation missing counters
      rows += chunk.length
      onProgress?.(rows)
      const last = chunk[chunk.length - 1]!
      after = [last.user_id, last.thread_id]
    }
  } finally {
    await conn.query('COMMIT')
  }
  // only once the swap ran may the old generation go: it may still be the live one
  await execAll(redis.multi().set(redisKeys.unreadCheckpoint(prefix, gen), String(position)).set(redisKeys.unreadGen(prefix), gen))
  await deleteGeneration(redis, prefix, old)
  return { gen, rows, position }
}

async function deleteGeneration(redis: Redis, prefix: string, gen: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}unread:${gen}:*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

/** threadId → unread count for a user (absent: 0). */
export async function unreadCounts(redis: Redis, prefix: string, userId: string): Promise<Record<string, number>> {
  const gen = (await redis.get(redisKeys.unreadGen(prefix))) ?? '1'
  const h = await redis.hgetall(redisKeys.unreadHash(prefix, gen, userId))
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]))
}
