// Reads of indexed records, shared by the writer (LedgerStore) and the read-only
// follower (LedgerReader): both keep a LedgerIndex over the same segment files and
// differ only in how far the index may be served (`eventCount` / `height` bounds).
import { assert } from '../../domain/assert.ts'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { decodeBlock, decodeHeader, encodeBlock } from '../../domain/ledger/block.ts'
import { equalBytes } from '../../domain/ledger/codec.ts'
import type { Block, BlockHeader, EventEnvelope, SignedTreeHead } from '../../domain/ledger/envelope.ts'
import { decodeEvent, eventBytesHash, type StreamHead } from '../../domain/ledger/event.ts'
import type { HashFn } from '../../domain/ledger/merkle.ts'
import { decodeTreeHead } from '../../domain/ledger/treeHead.ts'
import { limits } from '../../domain/limits.ts'
import { blockLayout } from './blockLayout.ts'
import { decodeCertificateRecord, type CertificateRecord } from './certificateRecord.ts'
import type { EventLocation, LedgerIndex, TreeHeadLocation } from './ledgerIndex.ts'
import { RECORD_HEADER_BYTES, RecordType } from './record.ts'
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
    const payload = this.blockRecord(h).payload
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.length)
  }

  /**
   * The block record read whole, checksum verified, and its events cut from it: a byte
   * damaged after open (the scan checked every record then) fails the read instead of
   * reaching a projection or an audit. (A stream's events, scattered over blocks, are
   * checked by their hash chain instead: stream().)
   */
  private blockRecord(height: number): BlockRecord {
    const loc = this.index.block(height)
    const payload = this.reader.record(loc.segment, loc.offset, RecordType.block, loc.length, height)
    const start = loc.offset + RECORD_HEADER_BYTES // file offset of payload[0]
    const eventBytes = (e: EventLocation): Buffer => {
      assert(e.segment === loc.segment && e.offset >= start && e.offset + e.length <= start + payload.length, `event of block ${height} lies inside its record`)
      return payload.subarray(e.offset - start, e.offset - start + e.length)
    }
    return { height, payload, eventBytes, event: (e) => decodeEventAt(eventBytes(e), e.segment, e.offset, height) }
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

  /** Events first..last of one block, decoded from its record (one read, checksum verified). */
  private eventRun(first: number, last: number, height: number, out: EventEnvelope[]): void {
    const record = this.blockRecord(height)
    for (let p = first; p <= last; p++) {
      const e = record.event(this.index.event(p))
      assert(e.position === p && e.blockHeight === height, `stored event ${p} holds position ${e.position}`)
      out.push(e)
    }
  }

  /**
   * Events of one stream in stream order, from streamVersion `fromVersion`, below `eventCount`.
   * A stream's events lie in many blocks, so they are read one by one, and checked by the
   * chain they form: each event's prevHash is the hash of the one before, so a byte damaged
   * after open in one of them breaks a link. The last one read is checked by the link from
   * the event after it, or, the stream's newest, with its block record's checksum.
   */
  stream(stream: string, fromVersion: number, limit: number, eventCount: number, hash: HashFn): EventEnvelope[] {
    const positions = this.index.streamPositions(stream)
    const out: EventEnvelope[] = []
    let prev: Uint8Array | null = null // bytes of the event read before
    const read = (v: number): EventEnvelope => {
      const loc = this.index.event(positions[v]!)
      const bytes = this.reader.bytes(loc.segment, loc.offset, loc.length, loc.height)
      const e = decodeEventAt(bytes, loc.segment, loc.offset, loc.height)
      assert(e.stream === stream && e.streamVersion === v && e.position === positions[v], `stored event ${positions[v]} is version ${v} of ${stream}`)
      if (prev !== null && !equalBytes(e.prevHash, eventBytesHash(prev, hash))) {
        throw corruptionError(segmentName(loc.segment), loc.offset, loc.height, `event ${e.position} does not link to the stored event before it in ${stream}`)
      }
      prev = bytes
      return e
    }
    let v = fromVersion
    for (; v < positions.length && out.length < limit && positions[v]! < eventCount; v++) out.push(read(v))
    if (out.length === 0) return out
    if (v < positions.length && positions[v]! < eventCount) read(v)
    else this.blockRecord(out[out.length - 1]!.blockHeight)
    return out
  }

  streamHead(stream: string, eventCount: number, hash: HashFn): StreamHead | undefined {
    const positions = this.index.streamPositions(stream)
    let v = positions.length - 1
    while (v >= 0 && positions[v]! >= eventCount) v--
    if (v < 0) return undefined
    const loc = this.index.event(positions[v]!)
    return { streamVersion: v, hash: eventBytesHash(this.blockRecord(loc.height).eventBytes(loc), hash) }
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

type BlockRecord = {
  readonly height: number
  readonly payload: Buffer
  eventBytes(e: EventLocation): Buffer
  event(e: EventLocation): EventEnvelope
}

function decodeEventAt(bytes: Buffer, segment: number, offset: number, height: number): EventEnvelope {
  try {
    return decodeEvent(bytes)
  } catch (e) {
    throw corruptionError(segmentName(segment), offset, height, `event does not decode: ${(e as Error).message}`)
  }
}
