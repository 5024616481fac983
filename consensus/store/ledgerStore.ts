// The durable ledger: append-only segment files of checksummed records (blocks,
// signed tree heads, Merkle frontier checkpoints), indexes rebuilt on open, group
// commit, and reads by height, position and stream. The embedded default: a node
// needs nothing else to keep its ledger. Format and recovery rules: ./README.md.
import { mkdirSync } from 'node:fs'
import { assert } from '../../domain/assert.ts'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { decodeHeader, encodeBlock, GENESIS_TIP, type ChainTip } from '../../domain/ledger/block.ts'
import { encode, equalBytes } from '../../domain/ledger/codec.ts'
import type { Block, BlockHeader, EventEnvelope, SignedTreeHead } from '../../domain/ledger/envelope.ts'
import { eventBytesHash, type StreamHead } from '../../domain/ledger/event.ts'
import { rootHash, type HashFn } from '../../domain/ledger/merkle.ts'
import { decodeTreeHead, encodeTreeHead } from '../../domain/ledger/treeHead.ts'
import { limits } from '../../domain/limits.ts'
import { blockLayout, type BlockLayout } from './blockLayout.ts'
import { encodeCertificateRecord, type CertificateRecord } from './certificateRecord.ts'
import type { LedgerIndex, TreeHeadLocation } from './ledgerIndex.ts'
import { acquireLock, type DirLock } from './lock.ts'
import { frameRecord, RecordType } from './record.ts'
import { RecordReader } from './recordReader.ts'
import { checkHeight, LedgerReads } from './ledgerReads.ts'
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
  private readonly reads: LedgerReads
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
    this.reads = new LedgerReads(this.index, this.reader)
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

  /**
   * Appends a committed block the way a replica does (see certificateRecord.ts): its
   * certificate as a record of its own (`agreed` or this replica's proof), the block with an
   * empty certificate field, and, first, `prev`: the agreed certificate of an earlier block
   * learned with this one. One group commit; resolves once all of it is on disk.
   */
  async appendCommitted(block: Block, agreed: boolean, prev: { readonly height: number; readonly certificate: Block['certificate'] } | null): Promise<void> {
    this.checkWritable()
    assert(block.header.height === this.pending.height + 1, `appendCommitted: block ${block.header.height} does not follow ${this.pending.height}`)
    if (prev !== null) {
      assert(prev.height >= 0 && prev.height <= this.pending.height, `appendCommitted: agreed certificate for ${prev.height} beyond the ledger`)
      void this.enqueueCertificate({ height: prev.height, agreed: true, certificate: prev.certificate }).catch(() => {})
    }
    void this.enqueueCertificate({ height: block.header.height, agreed, certificate: block.certificate }).catch(() => {})
    // the block's own promise reports a write failure for all three (one queue, in order)
    return this.append({ ...block, certificate: [] })
  }

  private enqueueCertificate(c: CertificateRecord): Promise<void> {
    const bytes = encodeCertificateRecord(c)
    return this.writer.enqueue(frameRecord(RecordType.certificate, bytes), (segment, offset) => {
      this.index.addCertificate(c.height, { segment, offset, length: bytes.length, agreed: c.agreed })
    })
  }

  /** The certificate stored for block h: the agreed one, else this replica's own proof; null if none. */
  certificateOf(h: number): CertificateRecord | null {
    checkHeight(h, this.height, this.corruption)
    return this.reads.certificate(h)
  }

  /** The block record exactly as stored (certificate field empty when appended by appendCommitted). */
  readBlockRecordBytes(h: number): Uint8Array {
    checkHeight(h, this.height, this.corruption)
    return this.reads.recordBytes(h)
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

  /** The block's canonical bytes, checksum verified. */
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

  /** Up to `limit` events from `fromPosition` on, in order; [] at the end of the ledger. */
  readEvents(fromPosition: number, limit: number = limits.storeReadEventsMax): EventEnvelope[] {
    return this.reads.events(fromPosition, limit, this.eventCount)
  }

  /** Events of one stream in stream order, from streamVersion `fromVersion`. */
  readStream(stream: string, fromVersion = 0, limit = Number.MAX_SAFE_INTEGER): EventEnvelope[] {
    return this.reads.stream(stream, fromVersion, limit, this.eventCount, this.hash)
  }

  /** The last event of a stream as a StreamHead (what its next event links to), or undefined. */
  streamHead(stream: string): StreamHead | undefined {
    return this.reads.streamHead(stream, this.eventCount, this.hash)
  }

  /** Per replica, the tree head with the largest size. */
  latestTreeHeads(): SignedTreeHead[] {
    return [...this.latest.values()].sort((a, b) => a.replica - b.replica)
  }

  /** Per replica, its smallest tree head with treeSize ≥ size: the first ones that cover event size − 1. */
  treeHeadsCovering(size: number): SignedTreeHead[] {
    return this.reads.treeHeadsCovering(size, this.eventCount, this.height)
  }

  private readTreeHead(t: TreeHeadLocation): SignedTreeHead {
    return this.reads.treeHead(t, this.height)
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
      const bytes = this.readBlockRecordBytes(h)
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
    checkHeight(h, this.height, this.corruption)
    return this.reads.headerBytes(h)
  }
}
