// A read-only follower of a ledger directory that another process (a replica) owns
// and appends to. It never takes the LOCK and never writes or truncates: it scans
// records incrementally from the end of the last fully valid one. An incomplete or
// bad record at the very end of the last segment is a write still in progress:
// not served, re-read on the next refresh, never dropped. Damage anywhere else is
// corruption of acknowledged data and is reported like the store does (file,
// offset, height). Format and rules: ./README.md.
import { closeSync, existsSync, fstatSync, openSync, watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import type { Block, BlockHeader, EventEnvelope, SignedTreeHead } from '../../domain/ledger/envelope.ts'
import type { HashFn } from '../../domain/ledger/merkle.ts'
import { limits } from '../../domain/limits.ts'
import { checkHeight, LedgerReads } from './ledgerReads.ts'
import { RECORD_OVERHEAD_BYTES } from './record.ts'
import { RecordReader } from './recordReader.ts'
import { corruptionError, Scanner } from './scan.ts'
import { intactRecordAfter, listSegments, scanSegment, segmentName, type ScanFailure } from './segmentFile.ts'

export type LedgerReaderOptions = {
  readonly hash: HashFn // SHA3-256 in production
  readonly pollMs?: number // fallback re-read interval while someone waits (default limits.storeFollowPollMs)
}

/** Where the follower stands: segment and offset just past the last valid record. */
type Cursor = { segment: number; offset: number }

export class LedgerReader {
  readonly dir: string
  /** Set when acknowledged data is damaged: reads past it throw it, refresh() stops. */
  corruption: ZixtError | null = null
  /** The incomplete record at the end of the last segment, if any (a write in progress). */
  pendingTail: ScanFailure | null = null
  private readonly hash: HashFn
  private readonly scanner: Scanner
  private readonly reader: RecordReader
  private readonly reads: LedgerReads
  private readonly pollMs: number
  private readonly cursor: Cursor = { segment: 0, offset: 0 }
  private readonly latest = new Map<number, SignedTreeHead>()
  private treeHeadsSeen = 0
  private readonly waiters = new Set<() => void>()
  private watcher: FSWatcher | null = null
  private timer: NodeJS.Timeout | null = null
  private closed = false

  private constructor(dir: string, options: LedgerReaderOptions) {
    this.dir = dir
    this.hash = options.hash
    this.pollMs = options.pollMs ?? limits.storeFollowPollMs
    this.scanner = new Scanner(options.hash, true)
    this.reader = new RecordReader(dir)
    this.reads = new LedgerReads(this.scanner.index, this.reader)
  }

  /** Opens and scans what is there; fails on corruption like LedgerStore.open. */
  static open(dir: string, options: LedgerReaderOptions): LedgerReader {
    if (!existsSync(dir)) throw new ZixtError(ErrorCode.notFound, `${dir}: no ledger directory`, { field: 'dir' })
    const r = new LedgerReader(dir, options)
    r.refresh()
    return r
  }

  /** Height of the last fully read block; −1 when none. */
  get height(): number {
    return this.scanner.index.height
  }

  /** Events in fully read blocks (= the next global position). */
  get eventCount(): number {
    return this.scanner.index.eventCount
  }

  /**
   * Reads the records appended since the last call (only new bytes). Returns
   * whether any arrived; throws the corruption error if data is damaged.
   */
  refresh(): boolean {
    if (this.corruption !== null) throw this.corruption
    if (this.closed) return false
    const before = { h: this.height, t: this.scanner.index.treeHeads.length }
    try {
      const segments = listSegments(this.dir) // listed before sizes are read: a segment seen sealed here stays sealed
      if (this.cursor.segment === 0 && segments.length > 0) this.cursor.segment = 1
      for (let guard = 0; this.cursor.segment > 0 && guard <= segments.length; guard++) {
        const isLast = this.cursor.segment >= segments.length
        if (!this.scanCurrent(isLast) || isLast) break
        this.cursor.segment++
        this.cursor.offset = 0
      }
    } catch (e) {
      if ((e as ZixtError).code === ErrorCode.corrupt) this.corruption = e as ZixtError
      this.wake()
      throw e
    }
    this.loadTreeHeads()
    const grew = this.height !== before.h || this.scanner.index.treeHeads.length !== before.t
    if (grew) this.wake()
    return grew
  }

  /** Scans the cursor's segment from its offset; false when it stopped at a pending tail. */
  private scanCurrent(isLast: boolean): boolean {
    const file = segmentName(this.cursor.segment)
    const fd = openSync(join(this.dir, file), 'r')
    try {
      const size = fstatSync(fd).size
      if (size < this.cursor.offset) throw corruptionError(file, size, this.height + 1, `segment shrank below ${this.cursor.offset} bytes`)
      let failure = this.scanFrom(fd, size, file)
      if (failure === null) {
        this.pendingTail = null
        return true
      }
      if (!isLast) throw corruptionError(file, failure.offset, this.height + 1, `${failure.reason} in a sealed segment`)
      if (intactRecordAfter(fd, size, failure.offset) !== null) {
        // The bad record may have been completed while we read it (the writer wrote it
        // before the intact one after it): read again once before calling it damage.
        const now = fstatSync(fd).size
        failure = this.scanFrom(fd, now, file)
        const after = failure === null ? null : intactRecordAfter(fd, now, failure.offset)
        if (failure !== null && after !== null) {
          throw corruptionError(file, failure.offset, this.height + 1, `${failure.reason}; an intact record follows at offset ${after}`)
        }
      }
      this.pendingTail = failure
      return failure === null
    } finally {
      closeSync(fd)
    }
  }

  private scanFrom(fd: number, size: number, file: string): ScanFailure | null {
    let broken: string | null = null
    const failure = scanSegment(fd, size, (r) => {
      if (broken !== null) return
      broken = this.scanner.visit(this.cursor.segment, r)
      if (broken !== null) throw corruptionError(file, r.offset, this.height + 1, broken)
      this.cursor.offset = r.offset + r.payload.length + RECORD_OVERHEAD_BYTES
    }, 1 << 20, this.cursor.offset)
    return failure
  }

  private loadTreeHeads(): void {
    const heads = this.scanner.index.treeHeads
    for (; this.treeHeadsSeen < heads.length; this.treeHeadsSeen++) {
      const t = heads[this.treeHeadsSeen]!
      const current = this.latest.get(t.replica)
      if (current !== undefined && current.treeSize > t.treeSize) continue
      this.latest.set(t.replica, this.reads.treeHead(t, this.height))
    }
  }

  readBlockBytes(h: number): Uint8Array {
    checkHeight(h, this.height, this.corruption)
    return this.reads.blockBytes(h)
  }

  readBlock(h: number): Block {
    checkHeight(h, this.height, this.corruption)
    return this.reads.block(h)
  }

  readHeader(h: number): BlockHeader {
    checkHeight(h, this.height, this.corruption)
    return this.reads.header(h)
  }

  /** Up to `limit` events from `fromPosition` on, in order; [] at the end of what has been read. */
  readEvents(fromPosition: number, limit: number = limits.storeReadEventsMax): EventEnvelope[] {
    return this.reads.events(fromPosition, limit, this.eventCount)
  }

  readStream(stream: string, fromVersion = 0, limit = Number.MAX_SAFE_INTEGER): EventEnvelope[] {
    return this.reads.stream(stream, fromVersion, limit, this.eventCount, this.hash)
  }

  /** Per replica, the tree head with the largest size. */
  latestTreeHeads(): SignedTreeHead[] {
    return [...this.latest.values()].sort((a, b) => a.replica - b.replica)
  }

  treeHeadsCovering(size: number): SignedTreeHead[] {
    return this.reads.treeHeadsCovering(size, this.eventCount, this.height)
  }

  /**
   * Resolves when event `position` has been read, the signal aborts or the reader
   * closes; rejects with the corruption error if the ledger turns out damaged.
   * Woken by fs.watch on the directory, with a poll every `pollMs` as a fallback.
   */
  waitForEvents(position: number, signal?: AbortSignal): Promise<void> {
    if (position >= this.eventCount && this.corruption === null && !this.closed) this.tryRefresh()
    if (this.corruption !== null) return Promise.reject(this.corruption)
    if (position < this.eventCount || this.closed || signal?.aborted === true) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.waiters.delete(check)
        signal?.removeEventListener('abort', done)
        this.stopWatching()
        if (this.corruption !== null) reject(this.corruption)
        else resolve()
      }
      const check = (): void => {
        if (position < this.eventCount || this.closed || this.corruption !== null) done()
      }
      this.waiters.add(check)
      signal?.addEventListener('abort', done, { once: true })
      this.startWatching()
      // records appended between the refresh above and the watch would otherwise wait for the poll
      this.tryRefresh()
      check()
    })
  }

  private tryRefresh(): void {
    try {
      this.refresh()
    } catch {
      // kept in this.corruption (or transient, e.g. a segment being created): waiters see it
    }
  }

  private startWatching(): void {
    if (this.timer !== null) return
    this.timer = setInterval(() => this.tryRefresh(), this.pollMs)
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => this.tryRefresh())
      this.watcher.on('error', () => this.watcher?.close())
    } catch {
      this.watcher = null // no inotify (or too many watches): the poll alone serves
    }
  }

  private stopWatching(): void {
    if (this.waiters.size > 0 && !this.closed) return
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.watcher?.close()
    this.watcher = null
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.wake()
    this.stopWatching()
    this.reader.close()
  }
}
