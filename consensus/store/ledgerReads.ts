// Reads of indexed records, shared by the writer (LedgerStore) and the read-only
// follower (LedgerReader): both keep a LedgerIndex over the same segment files and
// differ only in how far the index may be served (`eventCount` / `height` bounds).
import { assert } from '../../domain/assert.ts'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { decodeBlock, decodeHeader, encodeBlock } from '../../domain/ledger/block.ts'
import type { Block, BlockHeader, EventEnvelope, SignedTreeHead } from '../../domain/ledger/envelope.ts'
import { decodeEvent, eventBytesHash, type StreamHead } from '../../domain/ledger/event.ts'
import type { HashFn } from '../../domain/ledger/merkle.ts'
import { decodeTreeHead } from '../../domain/ledger/treeHead.ts'
import { limits } from '../../domain/limits.ts'
import { blockLayout } from './blockLayout.ts'
import { decodeCertificateRecord, type CertificateRecord } from './certificateRecord.ts'
import type { LedgerIndex, TreeHeadLocation } from './ledgerIndex.ts'
import { RecordType } from './record.ts'
import type { RecordReader } from './recordReader.ts'
import { corruptionError } from './scan.ts'
import { segmentName } from './segmentFile.ts'

/** Throws unless `h` is a served height (≤ `height`); past it, the corruption that stops reads, if any. */
export function checkHeight(h: number, height: number, corruption: ZixtError | null): void {
  if (!Number.isSafeInteger(h) || h < 0) throw new ZixtError(ErrorCode.invalidArgument, `height: ${h} is not a block height`, { field: 'height' })
  if (h <= height) return
  if (corruption !== null) throw corruption
  throw new ZixtError(ErrorCode.notFound, `height: block ${h} is past the last block ${height}`, { field: 'height' })
}

export function checkEventRange(fromPosition: number, limit: number): void {
  if (!Number.isSafeInteger(fromPosition) || fromPosition < 0) {
    throw new ZixtError(ErrorCode.invalidArgument, `fromPosition: ${fromPosition} is not a position`, { field: 'fromPosition' })
  }
  if (!Number.isSafeInteger(limit) || limit < 1) throw new ZixtError(ErrorCode.invalidArgument, `limit: ${limit} is not a positive integer`, { field: 'limit' })
}

export class LedgerReads {
  private readonly index: LedgerIndex
  private readonly reader: RecordReader
  constructor(index: LedgerIndex, reader: RecordReader) {
    this.index = index
    this.reader = reader
  }

  /** The block record as stored, checksum verified (the caller checked the height). */
  recordBytes(h: number): Uint8Array {
    const loc = this.index.block(h)
    const payload = this.reader.record(loc.segment, loc.offset, RecordType.block, loc.length, h)
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.length)
  }

  /** The block's certificate record (agreed if there is one, else the replica's own proof). */
  certificate(h: number): CertificateRecord | null {
    const loc = this.index.certificate(h)
    if (loc === undefined) return null
    const c = decodeCertificateRecord(this.reader.record(loc.segment, loc.offset, RecordType.certificate, loc.length, h))
    assert(c.height === h && c.agreed === loc.agreed, `stored certificate of ${h} holds height ${c.height}`)
    return c
  }

  /** The block's canonical bytes with its certificate in place (see certificateRecord.ts). */
  blockBytes(h: number): Uint8Array {
    const raw = this.recordBytes(h)
    if (this.index.certificate(h) === undefined) return raw
    return encodeBlock(this.block(h))
  }

  block(h: number): Block {
    const stored = decodeBlock(this.recordBytes(h))
    assert(stored.header.height === h, `stored block ${h} holds height ${stored.header.height}`)
    const c = this.certificate(h)
    return c === null ? stored : { ...stored, certificate: c.certificate }
  }

  headerBytes(h: number): Uint8Array {
    const bytes = this.recordBytes(h)
    const layout = blockLayout(bytes)
    return bytes.subarray(layout.header.start, layout.header.end)
  }

  header(h: number): BlockHeader {
    const header = decodeHeader(this.headerBytes(h))
    assert(header.height === h, `stored block ${h} holds height ${header.height}`)
    return header
  }

  /** Up to `limit` events from `fromPosition` on, below `eventCount` (the served end), in order. */
  events(fromPosition: number, limit: number, eventCount: number): EventEnvelope[] {
    checkEventRange(fromPosition, limit)
    const end = Math.min(eventCount, fromPosition + Math.min(limit, limits.storeReadEventsMax))
    const out: EventEnvelope[] = []
    let p = fromPosition
    while (p < end) {
      const height = this.index.heightOf(p)
      const loc = this.index.block(height)
      const last = Math.min(end, loc.firstPosition + loc.eventCount) - 1
      this.eventRun(p, last, height, out)
      p = last + 1
    }
    return out
  }

  /** Events first..last of one block, with one read (they are contiguous in the block's bytes). */
  private eventRun(first: number, last: number, height: number, out: EventEnvelope[]): void {
    const a = this.index.event(first)
    const b = this.index.event(last)
    const buf = this.reader.bytes(a.segment, a.offset, b.offset + b.length - a.offset, height)
    for (let p = first; p <= last; p++) {
      const loc = p === first ? a : p === last ? b : this.index.event(p)
      const e = decodeEventAt(buf, loc.offset - a.offset, loc.length, loc.segment, loc.offset, height)
      assert(e.position === p && e.blockHeight === height, `stored event ${p} holds position ${e.position}`)
      out.push(e)
    }
  }

  /** Events of one stream in stream order, from streamVersion `fromVersion`, below `eventCount`. */
  stream(stream: string, fromVersion: number, limit: number, eventCount: number): EventEnvelope[] {
    const positions = this.index.streamPositions(stream)
    const out: EventEnvelope[] = []
    for (let v = fromVersion; v < positions.length && out.length < limit; v++) {
      const p = positions[v]!
      if (p >= eventCount) break
      const loc = this.index.event(p)
      const e = decodeEventAt(this.reader.bytes(loc.segment, loc.offset, loc.length, loc.height), 0, loc.length, loc.segment, loc.offset, loc.height)
      assert(e.stream === stream && e.streamVersion === v && e.position === p, `stored event ${p} is version ${v} of ${stream}`)
      out.push(e)
    }
    return out
  }

  streamHead(stream: string, eventCount: number, hash: HashFn): StreamHead | undefined {
    const positions = this.index.streamPositions(stream)
    let v = positions.length - 1
    while (v >= 0 && positions[v]! >= eventCount) v--
    if (v < 0) return undefined
    const loc = this.index.event(positions[v]!)
    const bytes = this.reader.bytes(loc.segment, loc.offset, loc.length, loc.height)
    return { streamVersion: v, hash: eventBytesHash(bytes, hash) }
  }

  treeHead(t: TreeHeadLocation, height: number): SignedTreeHead {
    return decodeTreeHead(this.reader.record(t.segment, t.offset, RecordType.treeHead, t.length, height))
  }

  /** Per replica, its smallest tree head with treeSize ≥ size (and ≤ eventCount). */
  treeHeadsCovering(size: number, eventCount: number, height: number): SignedTreeHead[] {
    const best = new Map<number, TreeHeadLocation>()
    for (const t of this.index.treeHeads) {
      if (t.treeSize < size || t.treeSize > eventCount) continue
      const b = best.get(t.replica)
      if (b === undefined || t.treeSize < b.treeSize) best.set(t.replica, t)
    }
    return [...best.values()].sort((a, b) => a.replica - b.replica).map((t) => this.treeHead(t, height))
  }
}

function decodeEventAt(buf: Buffer, at: number, length: number, segment: number, offset: number, height: number): EventEnvelope {
  try {
    return decodeEvent(buf.subarray(at, at + length))
  } catch (e) {
    throw corruptionError(segmentName(segment), offset, height, `event does not decode: ${(e as Error).message}`)
  }
}
