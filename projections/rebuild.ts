// Rebuild: replay from position 0 into `<table>__shadow` copies while the web keeps reading
// the live tables, catch up with the head, then swap every table of the projections and
// their checkpoints in one RENAME TABLE (atomic: readers see old or new, never a mix). A
// live runner continues from the swapped-in checkpoint. Redis counters: new generation.
import type { Connection } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import type { EventSource } from './eventSource.ts'
import { checkpointTable, type Projection } from './projection.ts'
import { ProjectionRunner } from './runner.ts'
import { rebuildUnread } from './redis/unread.ts'

export const SHADOW = '__shadow'
const OLD = '__old'

export type RebuildProgress = { readonly position: number; readonly head: number; readonly eventsPerSecond: number; readonly etaSeconds: number }

export type RebuildOptions = {
  readonly source: EventSource
  readonly connect: () => Promise<Connection>
  readonly projections: readonly Projection[]
  readonly redis?: Redis | null
  readonly redisPrefix?: string
  readonly batchEvents?: number
  readonly onProgress?: (p: RebuildProgress) => void
  readonly signal?: AbortSignal
}

function allTables(projections: readonly Projection[]): string[] {
  return projections.flatMap((p) => [...p.tables, checkpointTable(p.name)])
}

export async function rebuild(o: RebuildOptions): Promise<{ events: number; seconds: number; unreadRows?: number }> {
  const started = performance.now()
  const conn = await o.connect()
  try {
    await conn.query(`SELECT GET_LOCK(CONCAT(DATABASE(), '/rebuild'), 0) AS ok`).then(([r]) => {
      if ((r as { ok: number }[])[0]?.ok !== 1) throw new Error('rebuild: another rebuild is running on this database')
    })
    for (const t of allTables(o.projections)) {
      await conn.query(`DROP TABLE IF EXISTS \`${t}${SHADOW}\``)
      await conn.query(`CREATE TABLE \`${t}${SHADOW}\` LIKE \`${t}\``)
    }
    for (const p of o.projections) await conn.query(`INSERT INTO \`${checkpointTable(p.name)}${SHADOW}\` (id, position) VALUES (1, -1)`)
    const runner = new ProjectionRunner({
      source: o.source, connect: o.connect, projections: o.projections, suffix: SHADOW, batchEvents: o.batchEvents,
      onBatch: ({ to }) => {
        const s = (performance.now() - started) / 1000
        const rate = (to + 1) / Math.max(s, 1e-3)
        o.onProgress?.({ position: to, head: head, eventsPerSecond: rate, etaSeconds: Math.max(0, head - 1 - to) / rate })
      },
    })
    const signal = o.signal ?? new AbortController().signal
    let head = await o.source.head()
    try {
      // catch up until a pass finds nothing new, so the swap leaves the live runner little to redo
      for (;;) {
        if (head > 0) await runner.run(signal, head - 1)
        if (signal.aborted) throw new Error('rebuild: aborted')
        const now = await o.source.head()
        if (now === head) break
        head = now
      }
    } finally {
      await runner.close()
    }
    const tables = allTables(o.projections)
    // leftovers of a rebuild that crashed between the RENAME and the DROP would fail the RENAME
    await conn.query('DROP TABLE IF EXISTS ' + tables.map((t) => `\`${t}${OLD}\``).join(', '))
    await conn.query('RENAME TABLE ' + tables.flatMap((t) => [`\`${t}\` TO \`${t}${OLD}\``, `\`${t}${SHADOW}\` TO \`${t}\``]).join(', '))
    await conn.query('DROP TABLE ' + tables.map((t) => `\`${t}${OLD}\``).join(', '))
    let unreadRows: number | undefined
    if (o.redis && o.projections.some((p) => p.name === 'conversations')) {
      unreadRows = (await rebuildUnread(conn, o.redis, o.redisPrefix ?? 'zixt:')).rows
    }
    return { events: head, seconds: (performance.now() - started) / 1000, unreadRows }
  } finally {
    await conn.query(`DO RELEASE_LOCK(CONCAT(DATABASE(), '/rebuild'))`).catch(() => {})
    await conn.end().catch(() => conn.destroy())
  }
}
