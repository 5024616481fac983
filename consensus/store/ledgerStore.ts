// The durable ledger: append-only segment files of checksummed records (blocks,
// signed tree heads, Merkle frontier checkpoints), indexes rebuilt on open, group
// commit, and reads by height, position and stream. The embedded default: a node
// needs nothing else to keep its ledger. Format and recovery rules: ./README.md.
import { mkdirSync } from 'node:fs'
import { assert } from '../../domain/assert.ts'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { decodeBlock, decodeHeader, encodeBlock, GENESIS_TIP, type ChainTip } from '../../domain/ledger/block.ts'
import { encode, equalBytes } from '../../domain/ledger/codec.ts'
import type { Block, BlockHeader, EventEnvelope, SignedTreeHead } from '../../domain/ledger/envelope.ts'
import { decodeEvent, eventBytesHash, type StreamHead } from '../../domain/ledger/event.ts'
import { rootHash, type HashFn } from '../../domain/ledger/merkle.ts'
import { decodeTreeHead, encodeTreeHead } from '../../domain/ledger/treeHead.ts'
import { limits } from '../../domain/limits.ts'
import { blockLayout, type BlockLayout } from './blockLayout.ts'
import type { LedgerIndex, TreeHeadLocation } from './ledgerIndex.ts'
import { acquireLock, type DirLock } from './lock.ts'
import { frameRecord, RecordType } from './record.ts'
import { RecordReader } from './recordReader.ts'
import { corruptionError, scanLedger, type Recovery } from './scan.ts'
import { SegmentWriter } from './segmentWriter.ts'
import { segmentName } from './segmentFile.ts'

export type { Recovery }

export type LedgerStoreOptions = {
  readonly hash: HashFn // SHA3-256 in production
  readonly segmentBytesMax?: number // rotate to a new segment past this size
  /** Open a store with corrupt data read-only, serving only what precedes the damage (see `corruption`). */
  readonly allowCorrupt?: boolean
  /** Write a Merkle frontier checkpoint every N blocks, so open re-hashes at most N blocks of events. */
  readonly frontierEveryBlocks?: number
}

const FRONTIER_EVERY_BLOCKS = 256

export class LedgerStore {
  readonly dir: string
  /** Set when open() dropped an unacknowledged torn tail. */
  readonly recovery: Recovery | null
  /** Set (with allowCorrupt) when acknowledged data is damaged: nothing at or past it is served. */
  corruption: ZixtError | null
  private readonly hash: HashFn
  private readonly index: LedgerIndex
  private readonly reader: RecordReader
  private readonly writer: SegmentWriter
  private readonly lock: DirLock
  private readonly frontierEvery: number
  private durable: ChainTip // what reads serve
  private pending: ChainTip // what the next append must extend
  private readonly latest = new Map<number, SignedTreeHead>() // replica → its largest tree head
  private readonly waiters = new Set<() => void>()
  private closed = false

  private constructor(dir: string, options: LedgerStoreOptions, lock: DirLock) {
    this.dir = dir
    this.hash = options.hash
    this.lock = lock
    this.frontierEvery = options.frontierEveryBlocks ?? FRONTIER_EVERY_BLOCKS
    const scan = scanLedger(dir, options.hash)
    this.index = scan.index
    this.recovery = scan.recovery
    this.corruption = scan.corruption
    this.reader = new RecordReader(dir)
    this.durable = this.restoreTip(scan.checkpoint)
    this.pending = this.durable
    this.writer = new SegmentWriter(dir, scan.lastSegment, scan.lastSegmentSize, options.segmentBytesMax ?? limits.segmentBytesMax)
  }

  static async open(dir: string, options: LedgerStoreOptions): Promise<LedgerStore> {
    mkdirSync(dir, { recursive: true })
    const lock = acquireLock(dir)
    let store: LedgerStore | null = null
    try {
      store = new LedgerStore(dir, options, lock)
      if (store.corruption !== null && options.allowCorrupt !== true) throw store.corruption
      if (store.corruption === null) await store.writer.resume()
      store.loadLatestTreeHeads()
      return store
    } catch (e) {
      store?.reader.close()
      lock.release()
      throw e
    }
  }

  /** Height of the last durable block; −1 when empty. */
  get height(): number {
    return this.durable.height
  }

  /** Events in durable blocks (= the next global position). */
  get eventCount(): number {
    return this.durable.frontier.size
  }

  /** fdatasync calls since open. */
  get syncs(): number {
    return this.writer.syncs
  }

  /** Height, hash and event-tree frontier of the last durable block: what the next block extends. */
  get tip(): ChainTip {
    return this.durable
  }

  /**
   * Appends a block; resolves once it is on disk (fdatasync). The block must
   * extend the previous one (height, prevBlockHash, positions, tree): anything
   * else is a bug in the caller, and crashes.
   */
  async append(block: Block): Promise<void> {
    this.checkWritable()
    const h = block.header
    const prev = this.pending
    assert(h.height === prev.height + 1, `append: block ${h.height} does not follow ${prev.height}`)
    assert(equalBytes(h.prevBlockHash, prev.blockHash), `append: block ${h.height} prevBlockHash does not link to block ${prev.height}`)
    const bytes = encodeBlock(block)
    const layout = blockLayout(bytes)
    const next = this.extend(prev, block, bytes, layout)
    this.pending = next
    const done = this.writer.enqueue(frameRecord(RecordType.block, bytes), (segment, offset) => {
      this.index.addBlock(segment, offset, bytes.length, layout)
      this.durable = next
      assert(this.index.height === next.height && this.index.eventCount === next.frontier.size, 'index follows the durable tip')
      this.wake()
    })
    if ((h.height + 1) % this.frontierEvery === 0) this.checkpoint(next)
    return done
  }

  /** Asserts the block's event positions and roots against the chain, and returns the new tip. */
  private extend(prev: ChainTip, block: Block, bytes: Uint8Array, layout: BlockLayout): ChainTip {
    const h = block.header
    const base = prev.frontier.size
    assert(h.treeSize === base + block.events.length, `append: block ${h.height} treeSize ${h.treeSize} != ${base} + ${block.events.length}`)
    block.events.forEach((e, i) => {
      assert(e.position === base + i && e.blockHeight === h.height, `append: block ${h.height} event ${i} has position ${e.position}, height ${e.blockHeight}`)
    })
    const leaves = layout.events.map((s) => eventBytesHash(bytes.subarray(s.start, s.end), this.hash))
    assert(equalBytes(h.eventsRoot, rootHash(leaves, this.hash)), `append: block ${h.height} eventsRoot does not match its events`)
    const frontier = prev.frontier.appendAll(leaves, this.hash)
    assert(equalBytes(h.treeRoot, frontier.root(this.hash)), `append: block ${h.height} treeRoot does not match the event tree`)
    return { height: h.height, blockHash: this.hash(bytes.subarray(layout.header.start, layout.header.end)), frontier }
  }

  private checkpoint(tip: ChainTip): void {
    const payload = encode({ height: tip.height, frontier: tip.frontier.toValue() })
    // the block's own promise reports a write failure; this one has nobody waiting on it
    this.writer.enqueue(frameRecord(RecordType.frontier, payload), () => {}).catch(() => {})
  }

  /** Stores a replica's signed tree head; resolves once durable. The signature is the caller's to check. */
  async appendTreeHead(sth: SignedTreeHead): Promise<void> {
    this.checkWritable()
    const bytes = encodeTreeHead(sth)
    decodeTreeHead(bytes) // field types and limits, as on read
    if (sth.treeSize > this.pending.frontier.size) {
      throw new ZixtError(ErrorCode.invalidArgument, `treeHead.treeSize: ${sth.treeSize} exceeds the ${this.pending.frontier.size} events in the ledger`, { field: 'treeHead.treeSize' })
    }
    this.checkTreeHeadRoot(sth)
    await this.writer.enqueue(frameRecord(RecordType.treeHead, bytes), (segment, offset) => {
      this.index.addTreeHead({ segment, offset, length: bytes.length, replica: sth.replica, treeSize: sth.treeSize })
      const current = this.latest.get(sth.replica)
      if (current === undefined || current.treeSize <= sth.treeSize) this.latest.set(sth.replica, sth)
    })
  }

  /** A tree head at a block boundary must carry that block's tree root (elsewhere it cannot be checked cheaply). */
  private checkTreeHeadRoot(sth: SignedTreeHead): void {
    let root: Uint8Array | null = null
    if (sth.treeSize === this.pending.frontier.size) root = this.pending.frontier.root(this.hash)
    else if (sth.treeSize > 0 && sth.treeSize <= this.eventCount) {
      const header = this.readHeader(this.index.heightOf(sth.treeSize - 1))
      if (header.treeSize === sth.treeSize) root = header.treeRoot
    }
    if (root !== null && !equalBytes(root, sth.treeRoot)) {
      throw new ZixtError(ErrorCode.invalidArgument, `treeHead.treeRoot: not the ledger's root at size ${sth.treeSize}`, { field: 'treeHead.treeRoot' })
    }
  }

  private checkWritable(): void {
    if (this.closed) throw new ZixtError(ErrorCode.unavailable, 'ledger store is closed')
    if (this.corruption !== null) throw this.corruption
    if (this.writer.failed !== null) throw this.writer.failed
  }

  private checkHeight(h: number): void {
    if (!Number.isSafeInteger(h) || h < 0) throw new ZixtError(ErrorCode.invalidArgument, `height: ${h} is not a block height`, { field: 'height' })
    if (h <= this.height) return
    if (this.corruption !== null) throw this.corruption
    throw new ZixtError(ErrorCode.notFound, `height: block ${h} is past the last block ${this.height}`, { field: 'height' })
  }

  /** The block's canonical bytes, checksum verified. */
  readBlockBytes(h: number): Uint8Array {
    this.checkHeight(h)
    const loc = this.index.block(h)
    const payload = this.reader.record(loc.segment, loc.offset, RecordType.block, loc.length, h)
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.length)
  }

  readBlock(h: number): Block {
    const block = decodeBlock(this.readBlockBytes(h))
    assert(block.header.height === h, `stored block ${h} holds height ${block.header.height}`)
    return block
  }

  readHeader(h: number): BlockHeader {
    const bytes = this.readBlockBytes(h)
    const layout = blockLayout(bytes)
    const header = decodeHeader(bytes.subarray(layout.header.start, layout.header.end))
    assert(header.height === h, `stored block ${h} holds height ${header.height}`)
    return header
  }

  /** Up to `limit` events from `fromPosition` on, in order; [] at the end of the ledger. */
  readEvents(fromPosition: number, limit: number = limits.storeReadEventsMax): EventEnvelope[] {
    if (!Number.isSafeInteger(fromPosition) || fromPosition < 0) {
      throw new ZixtError(ErrorCode.invalidArgument, `fromPosition: ${fromPosition} is not a position`, { field: 'fromPosition' })
    }
    if (!Number.isSafeInteger(limit) || limit < 1) throw new ZixtError(ErrorCode.invalidArgument, `limit: ${limit} is not a positive integer`, { field: 'limit' })
    const end = Math.min(this.eventCount, fromPosition + Math.min(limit, limits.storeReadEventsMax))
    const out: EventEnvelope[] = []
    let p = fromPosition
    while (p < end) {
      const height = this.index.heightOf(p)
      const loc = this.index.block(height)
      const last = Math.min(end, loc.firstPosition + loc.eventCount) - 1
      this.readEventRun(p, last, height, out)
      p = last + 1
    }
    return out
  }

  /** Events first..last of one block, with one read (they are contiguous in the block's bytes). */
  private readEventRun(first: number, last: number, height: number, out: EventEnvelope[]): void {
    const a = this.index.event(first)
    const b = this.index.event(last)
    const buf = this.reader.bytes(a.segment, a.offset, b.offset + b.length - a.offset, height)
    for (let p = first; p <= last; p++) {
      const loc = p === first ? a : p === last ? b : this.index.event(p)
      const e = this.decodeEventAt(buf, loc.offset - a.offset, loc.length, loc.segment, loc.offset, height)
      assert(e.position === p && e.blockHeight === height, `stored event ${p} holds position ${e.position}`)
      out.push(e)
    }
  }

  private decodeEventAt(buf: Buffer, at: number, length: number, segment: number, offset: number, height: number): EventEnvelope {
    try {
      return decodeEvent(buf.subarray(at, at + length))
    } catch (e) {
      throw corruptionError(segmentName(segment), offset, height, `event does not decode: ${(e as Error).message}`)
    }
  }

  /** Events of one stream in stream order, from streamVersion `fromVersion`. */
  readStream(stream: string, fromVersion = 0, limit = Number.MAX_SAFE_INTEGER): EventEnvelope[] {
    const positions = this.index.streamPositions(stream)
    const out: EventEnvelope[] = []
    for (let v = fromVersion; v < positions.length && out.length < limit; v++) {
      const p = positions[v]!
      if (p >= this.eventCount) break
      const loc = this.index.event(p)
      const e = this.decodeEventAt(this.reader.bytes(loc.segment, loc.offset, loc.length, loc.height), 0, loc.length, loc.segment, loc.offset, loc.height)
      assert(e.stream === stream && e.streamVersion === v && e.position === p, `stored event ${p} is version ${v} of ${stream}`)
      out.push(e)
    }
    return out
  }

  /** The last event of a stream as a StreamHead (what its next event links to), or undefined. */
  streamHead(stream: string): StreamHead | undefined {
    const positions = this.index.streamPositions(stream)
    let v = positions.length - 1
    while (v >= 0 && positions[v]! >= this.eventCount) v--
    if (v < 0) return undefined
    const loc = this.index.event(positions[v]!)
    const bytes = this.reader.bytes(loc.segment, loc.offset, loc.length, loc.height)
    return { streamVersion: v, hash: eventBytesHash(bytes, this.hash) }
  }

  /** Per replica, the tree head with the largest size. */
  latestTreeHeads(): SignedTreeHead[] {
    return [...this.latest.values()].sort((a, b) => a.replica - b.replica)
  }

  /** Per replica, its smallest tree head with treeSize ≥ size: the first ones that cover event size − 1. */
  treeHeadsCovering(size: number): SignedTreeHead[] {
    const best = new Map<number, TreeHeadLocation>()
    for (const t of this.index.treeHeads) {
      if (t.treeSize < size || t.treeSize > this.eventCount) continue
      const b = best.get(t.replica)
      if (b === undefined || t.treeSize < b.treeSize) best.set(t.replica, t)
    }
    return [...best.values()].sort((a, b) => a.replica - b.replica).map((t) => this.readTreeHead(t))
  }

  private readTreeHead(t: TreeHeadLocation): SignedTreeHead {
    const payload = this.reader.record(t.segment, t.offset, RecordType.treeHead, t.length, this.height)
    return decodeTreeHead(payload)
  }

  private loadLatestTreeHeads(): void {
    for (const t of this.index.treeHeads) {
      const current = this.latest.get(t.replica)
      if (current !== undefined && current.treeSize > t.treeSize) continue
      this.latest.set(t.replica, this.readTreeHead(t))
    }
  }

  /** Resolves when an event at `position` is durable, the signal aborts or the store closes. */
  waitForEvents(position: number, signal?: AbortSignal): Promise<void> {
    if (position < this.eventCount || this.closed || signal?.aborted === true) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        this.waiters.delete(check)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const check = (): void => {
        if (position < this.eventCount || this.closed) done()
      }
      this.waiters.add(check)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }

  /** Every event from `fromPosition` on, waiting for new ones; ends when the signal aborts or the store closes. */
  async *follow(fromPosition: number, signal?: AbortSignal): AsyncGenerator<EventEnvelope, void, undefined> {
    let p = fromPosition
    const stopped = (): boolean => this.closed || signal?.aborted === true
    while (!stopped()) {
      if (p >= this.eventCount) {
        await this.waitForEvents(p, signal)
        continue
      }
      for (const e of this.readEvents(p, 1000)) {
        if (stopped()) return
        yield e
        p = e.position + 1
      }
    }
  }

  /** Waits for queued appends, then releases files and the directory lock. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.writer.close()
    this.reader.close()
    this.lock.release()
    this.wake()
  }

  /**
   * The event tree at the last block: from the last frontier checkpoint, re-hash
   * the events of the blocks after it, checking each block's treeRoot on the way.
   */
  private restoreTip(checkpoint: { height: number; frontier: ChainTip['frontier'] }): ChainTip {
    this.durable = { ...GENESIS_TIP, height: this.index.height } // lets the reads below reach every indexed block
    let tip: ChainTip = {
      height: checkpoint.height,
      blockHash: checkpoint.height < 0 ? GENESIS_TIP.blockHash : this.hash(this.headerBytes(checkpoint.height)),
      frontier: checkpoint.frontier,
    }
    for (let h = checkpoint.height + 1; h <= this.index.height; h++) {
      const bytes = this.readBlockBytes(h)
      const layout = blockLayout(bytes)
      const headerBytes = bytes.subarray(layout.header.start, layout.header.end)
      const frontier = tip.frontier.appendAll(layout.events.map((s) => eventBytesHash(bytes.subarray(s.start, s.end), this.hash)), this.hash)
      if (!equalBytes(frontier.root(this.hash), decodeHeader(headerBytes).treeRoot)) {
        const loc = this.index.block(h)
        this.corruption ??= corruptionError(segmentName(loc.segment), loc.offset, h, 'treeRoot does not match the events')
        break
      }
      tip = { height: h, blockHash: this.hash(headerBytes), frontier }
    }
    this.durable = tip
    return tip
  }

  private headerBytes(h: number): Uint8Array {
    const bytes = this.readBlockBytes(h)
    const layout = blockLayout(bytes)
    return bytes.subarray(layout.header.start, layout.header.end)
  }
}
