// The projection runner: follows committed events from an EventSource and applies each
// batch, for every projection past its checkpoint, in one MySQL transaction together with
// the checkpoints; then (live mode) mirrors unread counters to Redis and publishes live
// notifications. Every step is driven by a stored checkpoint, so a crash anywhere resumes
// without double-applying (MySQL, Redis counters) or skipping (notifications: at least once).
import { format, type Connection } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import type { EventSource } from './eventSource.ts'
import { checkLedgerAnchor, checkpointEventHash, type Checkpoint } from './ledgerAnchor.ts'
import { checkpointTable, type Projection } from './projection.ts'
import { multiStatements, SqlTx } from './sqlTx.ts'
import { redisKeys } from './redis/keys.ts'
import { eventNotifications, unreadNotification } from './redis/notify.ts'
import { execAll } from './redis/pipeline.ts'
import { mirrorUnread, queueUnreadCopy, unreadRowsSql, type UnreadMirror, type UnreadRow } from './redis/unread.ts'

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

type CheckpointRow = { readonly name: string; readonly position: number; readonly event_hash: Buffer | null }

/**
 * Live mode: after each committed batch the runner publishes its position (decimal) here, so
 * a web request waiting to read its own write wakes at once instead of polling MySQL.
 */
export const positionChannel = (prefix: string): string => `${prefix}projections:position`
const WAIT_SLICE_MS = 1000 // re-check the head (and report lag) at least this often when idle
const PUBLISH_READ_EVENTS = 1000 // events read and published per pipeline when catching up
// per round: a publish checkpoint far behind catches up over several rounds, batches go on meanwhile
const PUBLISH_CATCH_UP_EVENTS_MAX = 10 * PUBLISH_READ_EVENTS

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
  // unread rows at or before this position get no notification: the publish checkpoint was
  // missing (Redis lost it) and notifications restarted after it
  private quietUpTo = -1
  private unread: UnreadMirror | null = null // the unread mirror as last read/written (null: read it from Redis)
  // the batch step() just committed, for syncRedis: its events, and the unread rows the mirror
  // lacks as read inside its transaction (null: not read, syncRedis reads them)
  private batch: { readonly events: readonly EventEnvelope[]; readonly unread: readonly UnreadRow[] | null } | null = null
  // checkpoints of the transaction the last COMMIT's query already began (more events were waiting)
  private begun: Map<string, number> | null = null
  // the ledger read is the one the checkpoints name (ledgerAnchor.ts): checked before the first
  // batch and again after any error
  private anchored = false
  private anchors: ReadonlyMap<string, Checkpoint> = new Map() // the checkpoints as last read, with their event hashes

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
        const redisBehind = await this.syncRedis()
        this.lastError = null
        delay = backoff.min
        if (until !== undefined && this.position >= until) return
        // after a batch, look at the source before opening a transaction that would find nothing
        if (!redisBehind && (!applied || !(await this.more()))) await this.idle(signal)
      } catch (e) {
        this.lastError = e instanceof Error ? e.message : String(e)
        this.o.log?.(`projections: ${this.lastError}; retrying in ${delay} ms`)
        this.drop()
        this.published = null
        this.unread = null
        this.batch = null
        this.begun = null
        this.anchored = false
        this.positionSent = -1 // a failed pipeline may have held it
        await sleep(delay, signal)
        delay = Math.min(delay * 2, backoff.max)
      }
    }
  }

  async close(): Promise<void> {
    const c = this.conn
    this.conn = null
    this.begun = null // ending the connection rolls it back
    await c?.end().catch(() => c.destroy())
  }

  /**
   * One batch: false when there was nothing to apply. Round trips to MariaDB: the transaction's
   * start with the checkpoints, the projections' prefetch reads, then every write, the read of
   * the unread rows for the Redis mirror and the COMMIT in one multi-statement query. When more
   * events wait already, that query also begins the next batch's transaction (one round trip
   * less per batch while behind).
   */
  async step(): Promise<boolean> {
    const conn = await this.connection()
    this.batch = null
    const cps = this.begun ?? await this.begin(conn)
    this.begun = null
    try {
      if (!this.anchored) {
        await checkLedgerAnchor(this.o.source, this.anchors)
        this.anchored = true
      }
      const from = Math.min(...cps.values()) + 1
      const events = await this.o.source.read(from, this.o.batchEvents ?? BATCH_EVENTS_DEFAULT)
      this.position = from - 1
      if (events.length === 0) {
        await conn.rollback()
        return false
      }
      const last = events[events.length - 1]!.position
      // the mirror's missing rows, read in this transaction: it sees this batch's own rows
      const mirror = this.liveRedis() && this.o.projections.some((p) => p.name === 'conversations') ? this.unread : null
      // (a mirror still catching up would read far more than the batch: syncRedis copies in pages)
      const tail = mirror === null || mirror.checkpoint < from - 1 || mirror.checkpoint >= last ? [] : [format(unreadRowsSql(`\`unread_counts${this.suffix}\``), [mirror.checkpoint, last])]
      const chain = multiStatements(conn) && (await this.o.source.head()) > last + 1
      const results = await this.apply(conn, from, events, cps, [...tail, 'COMMIT', ...(chain ? ['START TRANSACTION', this.checkpointsSql(true)] : [])])
      // committed: a failure from here on must not roll back, and the next step reads what it needs again
      this.batch = { events, unread: tail.length === 0 ? null : (results[0] as UnreadRow[]) }
      if (chain) this.begun = this.checkpointRows(results.at(-1) as CheckpointRow[])
      this.position = last
      this.batches++
      this.o.onBatch?.({ from, to: this.position, events: events.length })
      return true
    } catch (e) {
      await conn.rollback().catch(() => {})
      throw e
    }
  }

  /** Applies the batch; `tail` (the COMMIT, …) runs after its writes, in the same round trip when it can: their results. */
  private async apply(conn: Connection, from: number, events: readonly EventEnvelope[], cps: Map<string, number>, tail: readonly string[]): Promise<unknown[]> {
    const tx = new SqlTx(conn, this.suffix)
    let expected = from
    for (const e of events) {
      // the source must hand out a gap-free run from `from` on: a skipped event would never be applied
      if (e.position !== expected) throw new Error(`event source returned position ${e.position}, expected ${expected} (read from ${from})`)
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
    const hash = Buffer.from(checkpointEventHash(events[events.length - 1]!)).toString('hex')
    for (const p of this.o.projections) {
      if (cps.get(p.name)! < last) tx.exec(checkpointTable(p.name), `UPDATE ${tx.t(checkpointTable(p.name))} SET position = ?, event_hash = UNHEX(?) WHERE id = 1`, [last, hash])
    }
    return tx.flush(tail)
  }

  /** START TRANSACTION and the locked checkpoints, in one round trip on a multi-statement connection. */
  private async begin(conn: Connection): Promise<Map<string, number>> {
    if (!multiStatements(conn)) {
      await conn.beginTransaction()
      return this.checkpoints(conn, true).catch(async (e: unknown) => {
        await conn.rollback().catch(() => {})
        throw e
      })
    }
    try {
      const [results] = await conn.query(`START TRANSACTION;\n${this.checkpointsSql(true)}`) as unknown as [unknown[]]
      return this.checkpointRows(results[1] as CheckpointRow[])
    } catch (e) {
      await conn.rollback().catch(() => {})
      throw e
    }
  }

  /** True when the source holds an event past the last one applied. */
  private async more(): Promise<boolean> {
    return (await this.o.source.head()) > this.position + 1
  }

  private liveRedis(): boolean {
    return this.o.redis !== null && this.o.redis !== undefined && this.suffix === ''
  }

  /** Checkpoint of each projection; FOR UPDATE serialises runners on the same tables. */
  private async checkpoints(conn: Connection, lock: boolean): Promise<Map<string, number>> {
    const [rows] = await conn.query(this.checkpointsSql(lock)) as unknown as [CheckpointRow[]]
    return this.checkpointRows(rows)
  }

  private checkpointsSql(lock: boolean): string {
    return this.o.projections
      .map((p) => `(SELECT '${p.name}' AS name, position, event_hash FROM \`${checkpointTable(p.name)}${this.suffix}\` WHERE id = 1${lock ? ' FOR UPDATE' : ''})`)
      .join(' UNION ALL ')
  }

  private checkpointRows(rows: readonly CheckpointRow[]): Map<string, number> {
    const cps = new Map(rows.map((r) => [r.name, Number(r.position)]))
    for (const p of this.o.projections) if (!cps.has(p.name)) throw new Error(`checkpoint row of projection ${p.name} is missing`)
    this.anchors = new Map(rows.map((r) => [r.name, { position: Number(r.position), eventHash: r.event_hash === null ? null : new Uint8Array(r.event_hash) }]))
    return cps
  }

  /**
   * Live mode: publish committed events not yet published, mirror the unread counters, publish
   * the position. In step with Redis (the batch just committed follows what was published and
   * mirrored), all of it is one pipeline; otherwise (start, after an error, a rebuild's swap)
   * it catches up from the checkpoints kept in Redis, a bounded amount per round. True while
   * Redis is still behind (the next round must not idle).
   */
  private async syncRedis(): Promise<boolean> {
    const redis = this.o.redis
    if (redis === null || redis === undefined || this.suffix !== '') return false
    const prefix = this.o.redisPrefix ?? 'zixt:'
    const batch = this.batch
    this.batch = null
    // one runner owns these tables (FOR UPDATE), so the checkpoint is read once and then kept
    let published = this.published ?? await this.readPublished(redis, prefix, batch)
    const mirrored = this.o.projections.some((p) => p.name === 'conversations')
    if (batch !== null && published === batch.events[0]!.position - 1 && batch.events.at(-1)!.position === this.position && (!mirrored || batch.unread !== null)) {
      await this.publishBatch(redis, prefix, batch.events, mirrored ? batch.unread : null)
      return false
    }
    const end = Math.min(this.position, published + PUBLISH_CATCH_UP_EVENTS_MAX)
    for (let guard = 0; published < end && guard < PUBLISH_CATCH_UP_EVENTS_MAX; guard++) {
      const events = await this.o.source.read(published + 1, Math.min(PUBLISH_READ_EVENTS, end - published))
      if (events.length === 0) break
      const pipe = redis.pipeline()
      for (const e of events) for (const [ch, msg] of eventNotifications(prefix, e)) pipe.publish(ch, msg)
      const before = published
      published = events[events.length - 1]!.position
      pipe.set(redisKeys.publishCheckpoint(prefix), String(published))
      if (published >= this.position) this.positionNotice(pipe, prefix)
      await this.execPublishing(redis, prefix, pipe, before)
      this.published = published
    }
    if (this.positionSent < this.position) await execAll(this.positionNotice(redis.pipeline(), prefix))
    // stopped at its bound (not at a source that had nothing): the next round goes on at once
    const publishBehind = published === end && end < this.position
    if (!mirrored) return publishBehind
    const { rows, mirror } = await mirrorUnread(await this.connection(), redis, prefix, 'unread_counts', this.position)
    this.unread = mirror
    const notify = rows.filter((r) => Number(r.position) > this.quietUpTo)
    if (notify.length > 0) {
      const pipe = redis.pipeline()
      for (const r of notify) pipe.publish(...unreadNotification(prefix, r))
      await execAll(pipe)
    }
    return publishBehind || (mirror !== null && mirror.checkpoint < this.position)
  }

  /**
   * The publish checkpoint kept in Redis. Missing (a new Redis, or one restarted without
   * persistence), it starts before the batch just committed (or at the position, none): nobody
   * subscribed before Redis lost it can receive older notifications, so they are not sent.
   */
  private async readPublished(redis: Redis, prefix: string, batch: { readonly events: readonly EventEnvelope[] } | null): Promise<number> {
    const key = redisKeys.publishCheckpoint(prefix)
    const stored = await redis.get(key)
    if (stored !== null) return Number(stored)
    const start = batch === null ? this.position : batch.events[0]!.position - 1
    await redis.set(key, String(start))
    this.quietUpTo = start
    this.o.log?.(`projections: no publish checkpoint in Redis (new, or restarted without persistence): notifications start after position ${start}, earlier events are not published`)
    return start
  }

  /** The batch's notifications, publish checkpoint, unread copy and position notice: one round trip. */
  private async publishBatch(redis: Redis, prefix: string, events: readonly EventEnvelope[], unread: readonly UnreadRow[] | null): Promise<void> {
    const pipe = redis.pipeline()
    let queued = 0 // commands before the unread copy: its reply's index
    for (const e of events) {
      for (const [ch, msg] of eventNotifications(prefix, e)) {
        pipe.publish(ch, msg)
        queued++
      }
    }
    pipe.set(redisKeys.publishCheckpoint(prefix), String(this.position))
    queued++
    const mirror = this.unread
    if (unread !== null && mirror !== null) {
      queueUnreadCopy(pipe, prefix, mirror, this.position, unread)
      for (const r of unread) pipe.publish(...unreadNotification(prefix, r))
    }
    // last: a request woken by it reads the unread counts and sees every notification before it
    this.positionNotice(pipe, prefix)
    const replies = await this.execPublishing(redis, prefix, pipe, events[0]!.position - 1)
    this.published = this.position
    if (unread === null || mirror === null) return
    // 0: a rebuild swapped the generation: the next round reads the mirror's state again
    this.unread = replies[queued] === 1 ? { gen: mirror.gen, checkpoint: this.position } : null
  }

  /**
   * Sends a pipeline that moves the publish checkpoint. When a command failed, the checkpoint
   * goes back to `before` (its SET may have run while a PUBLISH failed: commands of a pipeline
   * run one by one) so the next round sends these notifications again (at least once).
   */
  private async execPublishing(redis: Redis, prefix: string, pipe: ReturnType<Redis['pipeline']>, before: number): Promise<unknown[]> {
    try {
      return await execAll(pipe)
    } catch (e) {
      await redis.set(redisKeys.publishCheckpoint(prefix), String(before)).catch(() => {})
      throw e
    }
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
    this.begun = null
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
