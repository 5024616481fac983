// The projection runner: follows committed events from an EventSource and applies each
// batch, for every projection past its checkpoint, in one MySQL transaction together with
// the checkpoints; then (live mode) mirrors unread counters to Redis and publishes live
// notifications. Every step is driven by a stored checkpoint, so a crash anywhere resumes
// without double-applying (MySQL, Redis counters) or skipping (notifications: at least once).
import type { Connection } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import type { EventSource } from './eventSource.ts'
import { checkpointTable, type Projection } from './projection.ts'
import { SqlTx } from './sqlTx.ts'
import { redisKeys } from './redis/keys.ts'
import { eventNotifications, unreadNotification } from './redis/notify.ts'
import { mirrorUnread } from './redis/unread.ts'

export type RunnerStatus = {
  readonly position: number // last event applied by every projection (−1: none)
  readonly head: number // events in the ledger
  readonly lag: number // events behind the head
  readonly lastError: string | null
  readonly batches: number
}

export type RunnerOptions = {
  readonly source: EventSource
  readonly connect: () => Promise<Connection>
  readonly projections: readonly Projection[]
  readonly redis?: Redis | null // unread mirror and notifications (live mode)
  readonly redisPrefix?: string
  readonly suffix?: string // '' live, '__shadow' while rebuilding
  readonly batchEvents?: number
  readonly backoffMs?: { readonly min: number; readonly max: number }
  readonly onBatch?: (b: { readonly from: number; readonly to: number; readonly events: number }) => void
  readonly log?: (line: string) => void
}

export const BATCH_EVENTS_DEFAULT = 5000

/**
 * Live mode: after each committed batch the runner publishes its position (decimal) here, so
 * a web request waiting to read its own write wakes at once instead of polling MySQL.
 */
export const positionChannel = (prefix: string): string => `${prefix}projections:position`
const WAIT_SLICE_MS = 1000 // re-check the head (and report lag) at least this often when idle

export class ProjectionRunner {
  private readonly o: RunnerOptions
  private readonly suffix: string
  private conn: Connection | null = null
  private position = -1
  private head = 0
  private lastError: string | null = null
  private batches = 0
  private published: number | null = null // publish checkpoint as last read/written (null: read it from Redis)
  private positionSent = -1

  constructor(options: RunnerOptions) {
    this.o = options
    this.suffix = options.suffix ?? ''
  }

  async status(): Promise<RunnerStatus> {
    try {
      this.head = await this.o.source.head()
    } catch {
      // keep the last known head
    }
    return { position: this.position, head: this.head, lag: Math.max(0, this.head - 1 - this.position), lastError: this.lastError, batches: this.batches }
  }

  /** Runs until `signal` aborts (or, with `until`, until every projection passed that position). */
  async run(signal: AbortSignal, until?: number): Promise<void> {
    const backoff = this.o.backoffMs ?? { min: 100, max: 5000 }
    let delay = backoff.min
    while (!signal.aborted) {
      try {
        const applied = await this.step()
        await this.syncRedis()
        this.lastError = null
        delay = backoff.min
        if (until !== undefined && this.position >= until) return
        if (!applied) await this.idle(signal)
      } catch (e) {
        this.lastError = e instanceof Error ? e.message : String(e)
        this.o.log?.(`projections: ${this.lastError}; retrying in ${delay} ms`)
        this.drop()
        this.published = null
        await sleep(delay, signal)
        delay = Math.min(delay * 2, backoff.max)
      }
    }
  }

  async close(): Promise<void> {
    const c = this.conn
    this.conn = null
    await c?.end().catch(() => c.destroy())
  }

  /** One batch: false when there was nothing to apply. */
  async step(): Promise<boolean> {
    const conn = await this.connection()
    await conn.beginTransaction()
    try {
      const cps = await this.checkpoints(conn, true)
      const from = Math.min(...cps.values()) + 1
      const events = await this.o.source.read(from, this.o.batchEvents ?? BATCH_EVENTS_DEFAULT)
      this.position = from - 1
      if (events.length === 0) {
        await conn.rollback()
        return false
      }
      await this.apply(conn, events, cps)
      await conn.commit()
      this.position = events[events.length - 1]!.position
      this.batches++
      this.o.onBatch?.({ from, to: this.position, events: events.length })
      return true
    } catch (e) {
      await conn.rollback().catch(() => {})
      throw e
    }
  }

  private async apply(conn: Connection, events: readonly EventEnvelope[], cps: Map<string, number>): Promise<void> {
    const tx = new SqlTx(conn, this.suffix)
    let expected = events[0]!.position
    for (const e of events) {
      // the source must hand out a gap-free run: a skipped event would never be applied
      if (e.position !== expected) throw new Error(`event source returned position ${e.position}, expected ${expected}`)
      expected++
    }
    for (const p of this.o.projections) {
      if (p.prepare !== undefined) await p.prepare(events.filter((e) => e.position > cps.get(p.name)! && p.handles.has(e.type as never)), tx)
    }
    for (const e of events) {
      for (const p of this.o.projections) {
        if (e.position > cps.get(p.name)! && p.handles.has(e.type as never)) await p.apply(e, tx)
      }
    }
    for (const p of this.o.projections) await p.finish?.(tx)
    const last = events[events.length - 1]!.position
    for (const p of this.o.projections) {
      if (cps.get(p.name)! < last) tx.exec(checkpointTable(p.name), `UPDATE ${tx.t(checkpointTable(p.name))} SET position = ? WHERE id = 1`, [last])
    }
    await tx.flush()
  }

  /** Checkpoint of each projection; FOR UPDATE serialises runners on the same tables. */
  private async checkpoints(conn: Connection, lock: boolean): Promise<Map<string, number>> {
    const sql = this.o.projections
      .map((p) => `(SELECT '${p.name}' AS name, position FROM \`${checkpointTable(p.name)}${this.suffix}\` WHERE id = 1${lock ? ' FOR UPDATE' : ''})`)
      .join(' UNION ALL ')
    const [rows] = await conn.query(sql) as unknown as [{ name: string; position: number }[]]
    const cps = new Map(rows.map((r) => [r.name, Number(r.position)]))
    for (const p of this.o.projections) if (!cps.has(p.name)) throw new Error(`checkpoint row of projection ${p.name} is missing`)
    return cps
  }

  /** Live mode: publish committed events not yet published, then mirror the unread counters. */
  private async syncRedis(): Promise<void> {
    const redis = this.o.redis
    if (redis === null || redis === undefined || this.suffix !== '') return
    const prefix = this.o.redisPrefix ?? 'zixt:'
    const pubKey = redisKeys.publishCheckpoint(prefix)
    // one runner owns these tables (FOR UPDATE), so the checkpoint is read once and then kept
    let published = this.published ?? Number((await redis.get(pubKey)) ?? -1)
    for (let guard = 0; published < this.position && guard < 100_000; guard++) {
      const events = await this.o.source.read(published + 1, Math.min(1000, this.position - published))
      if (events.length === 0) break
      const pipe = redis.pipeline()
      for (const e of events) for (const [ch, msg] of eventNotifications(prefix, e)) pipe.publish(ch, msg)
      published = events[events.length - 1]!.position
      pipe.set(pubKey, String(published))
      if (published >= this.position) this.positionNotice(pipe, prefix)
      await pipe.exec()
      this.published = published
    }
    if (this.positionSent < this.position) await this.positionNotice(redis.pipeline(), prefix).exec()
    if (!this.o.projections.some((p) => p.name === 'conversations')) return
    const rows = await mirrorUnread(await this.connection(), redis, prefix, 'unread_counts', this.position)
    if (rows.length === 0) return
    const pipe = redis.pipeline()
    for (const r of rows) pipe.publish(...unreadNotification(prefix, r))
    await pipe.exec()
  }

  private positionNotice<P extends ReturnType<Redis['pipeline']>>(pipe: P, prefix: string): P {
    pipe.publish(positionChannel(prefix), String(this.position))
    this.positionSent = this.position
    return pipe
  }

  private async idle(signal: AbortSignal): Promise<void> {
    const slice = AbortSignal.any([signal, AbortSignal.timeout(WAIT_SLICE_MS)])
    await this.o.source.wait(this.position + 1, slice)
  }

  private async connection(): Promise<Connection> {
    if (this.conn === null) {
      this.conn = await this.o.connect()
      this.conn.on('error', () => this.drop())
    }
    return this.conn
  }

  private drop(): void {
    const c = this.conn
    this.conn = null
    c?.destroy()
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}
