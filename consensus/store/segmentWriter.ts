// Appends records to the last segment with group commit: records queued while
// a write + fdatasync is in flight go out together in the next one, so N
// concurrent appends cost one fsync, not N. A record is acknowledged (its
// promise resolves) only after the fdatasync that covers it returned.
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { assert } from '../../domain/assert.ts'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { fsyncDir, segmentName } from './segmentFile.ts'

const BATCH_RECORDS_MAX = 512 // below IOV_MAX (1024)
const BATCH_BYTES_MAX = 32 * 1024 * 1024

type Pending = {
  readonly record: Buffer
  /** Called in queue order once the record is durable, with where it landed. */
  readonly onDurable: (segment: number, offset: number) => void
  readonly resolve: () => void
  readonly reject: (e: Error) => void
}

export class SegmentWriter {
  private readonly dir: string
  private readonly segmentBytesMax: number
  private segment: number // 0 until the first segment exists
  private size: number
  private handle: FileHandle | null = null
  private queue: Pending[] = []
  // set and cleared synchronously with the queue check, so an enqueue never finds
  // a drain that has already seen an empty queue but not yet finished
  private draining = false
  private drained: Promise<void> = Promise.resolve()
  failed: ZixtError | null = null
  syncs = 0 // fdatasync calls: with group commit, fewer than records under concurrent appends

  constructor(dir: string, segment: number, size: number, segmentBytesMax: number) {
    this.dir = dir
    this.segment = segment
    this.size = size
    this.segmentBytesMax = segmentBytesMax
  }

  enqueue(record: Buffer, onDurable: (segment: number, offset: number) => void): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed)
    const done = new Promise<void>((resolve, reject) => this.queue.push({ record, onDurable, resolve, reject }))
    if (!this.draining) {
      this.draining = true
      this.drained = this.drain()
    }
    return done
  }

  /** Waits for everything queued, then closes the file. */
  async close(): Promise<void> {
    while (this.draining) await this.drained
    await this.handle?.close()
    this.handle = null
  }

  private async drain(): Promise<void> {
    // One turn of the microtask queue first: records enqueued in the same synchronous run
    // (a committed block's certificates, the block, a frontier checkpoint) join the first
    // group instead of the first one alone taking a write and an fdatasync of its own.
    await Promise.resolve()
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch()
        try {
          await this.writeBatch(batch)
        } catch (e) {
          this.fail(e as Error, batch)
          return
        }
      }
    } finally {
      this.draining = false
    }
  }

  private takeBatch(): Pending[] {
    let bytes = 0
    let n = 0
    while (n < this.queue.length && n < BATCH_RECORDS_MAX && (n === 0 || bytes + this.queue[n]!.record.length <= BATCH_BYTES_MAX)) {
      bytes += this.queue[n]!.record.length
      n++
    }
    return this.queue.splice(0, n)
  }

  private async writeBatch(batch: readonly Pending[]): Promise<void> {
    let group: Pending[] = []
    const placed: [Pending, number, number][] = []
    for (const p of batch) {
      if (this.handle === null || (this.size > 0 && this.size + p.record.length > this.segmentBytesMax)) {
        await this.writeGroup(group)
        group = []
        await this.rotate()
      }
      placed.push([p, this.segment, this.size + group.reduce((s, g) => s + g.record.length, 0)])
      group.push(p)
    }
    await this.writeGroup(group)
    for (const [p, segment, offset] of placed) p.onDurable(segment, offset)
    for (const [p] of placed) p.resolve()
  }

  private async writeGroup(group: readonly Pending[]): Promise<void> {
    if (group.length === 0) return
    assert(this.handle !== null, 'a segment is open for writing')
    let buffers = group.map((p) => p.record)
    let position = this.size
    let left = buffers.reduce((s, b) => s + b.length, 0)
    while (left > 0) {
      const { bytesWritten } = await this.handle.writev(buffers, position)
      assert(bytesWritten > 0, 'writev makes progress')
      position += bytesWritten
      left -= bytesWritten
      buffers = skipBytes(buffers, bytesWritten)
    }
    await this.handle.datasync() // fdatasync: data and the new file size are durable
    this.syncs++
    this.size = position
  }

  /** Seals the current segment (already synced) and starts the next; the directory entry is synced first. */
  private async rotate(): Promise<void> {
    if (this.handle !== null && this.size === 0) return // an empty segment takes any record
    await this.handle?.close()
    this.handle = null
    if (this.segment === 0 || this.size > 0) {
      this.segment += 1
      this.handle = await open(join(this.dir, segmentName(this.segment)), 'wx')
      fsyncDir(this.dir)
    } else {
      this.handle = await open(join(this.dir, segmentName(this.segment)), 'r+')
    }
    this.size = 0
  }

  /** Opens the existing last segment for appending at `size` (after recovery truncated any torn tail). */
  async resume(): Promise<void> {
    if (this.segment === 0) return
    this.handle = await open(join(this.dir, segmentName(this.segment)), 'r+')
  }

  private fail(e: Error, batch: readonly Pending[]): void {
    // After a failed write or fsync the file's state is unknown (an fsync error may
    // have dropped dirty pages): refuse all further writes; reopening recovers.
    this.failed = new ZixtError(ErrorCode.unavailable, `ledger store write failed in ${segmentName(this.segment)}: ${e.message}; reopen the store to recover`, { file: segmentName(this.segment) })
    for (const p of [...batch, ...this.queue]) p.reject(this.failed)
    this.queue = []
  }
}

function skipBytes(buffers: readonly Buffer[], n: number): Buffer[] {
  const out: Buffer[] = []
  for (const b of buffers) {
    if (n >= b.length) { n -= b.length; continue }
    out.push(n > 0 ? b.subarray(n) : b)
    n = 0
  }
  return out
}
