// Unread counters in Redis mirror the MySQL table unread_counts: rows changed after the
// Redis checkpoint are copied with the new checkpoint in one MULTI (idempotent: values are
// absolute). A rebuild fills a new generation and swaps the `unread:gen` pointer.
import type { Connection } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import { redisKeys } from './keys.ts'

export type UnreadRow = { user_id: string; thread_id: string; unread_count: number; position: number }

const COPY_ROWS_MAX = 10_000

/** The current generation, created ('1') if there is none. */
export async function unreadGeneration(redis: Redis, prefix: string): Promise<string> {
  await redis.set(redisKeys.unreadGen(prefix), '1', 'NX')
  return (await redis.get(redisKeys.unreadGen(prefix))) ?? '1'
}

/**
 * Copies unread_counts rows with checkpoint < position ≤ upTo into the current generation.
 * Returns the rows copied (for live `unread` notifications).
 */
export async function mirrorUnread(conn: Connection, redis: Redis, prefix: string, table: string, upTo: number): Promise<UnreadRow[]> {
  const genKey = redisKeys.unreadGen(prefix)
  await redis.set(genKey, '1', 'NX')
  await redis.watch(genKey) // a rebuild swapping the generation meanwhile aborts this copy
  try {
    const gen = (await redis.get(genKey)) ?? '1'
    const cpKey = redisKeys.unreadCheckpoint(prefix, gen)
    const from = Number((await redis.get(cpKey)) ?? -1)
    if (from >= upTo) {
      await redis.unwatch()
      return []
    }
    const [rows] = await conn.query(
      `SELECT user_id, thread_id, unread_count, position FROM ${table} WHERE position > ? AND position <= ? ORDER BY position`, [from, upTo],
    ) as unknown as [UnreadRow[]]
    const m = redis.multi()
    for (const r of rows) {
      const key = redisKeys.unreadHash(prefix, gen, r.user_id)
      if (r.unread_count > 0) m.hset(key, r.thread_id, String(r.unread_count))
      else m.hdel(key, r.thread_id)
    }
    m.set(cpKey, String(upTo))
    const result = await m.exec()
    if (result === null) return [] // generation swapped: the next round copies into the new one
    return rows
  } catch (e) {
    await redis.unwatch().catch(() => {})
    throw e
  }
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
      await m.exec()
      rows += chunk.length
      onProgress?.(rows)
      const last = chunk[chunk.length - 1]!
      after = [last.user_id, last.thread_id]
    }
  } finally {
    await conn.query('COMMIT')
  }
  await redis.multi().set(redisKeys.unreadCheckpoint(prefix, gen), String(position)).set(redisKeys.unreadGen(prefix), gen).exec()
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
