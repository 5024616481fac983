// Segment files: ledger-000001.seg, ledger-000002.seg, … appended in order; a
// segment is sealed (never written again) once the next one exists.
import { closeSync, fsyncSync, openSync, readdirSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { checkHeader, checksumMatches, RECORD_HEADER_BYTES, RECORD_OVERHEAD_BYTES, type RecordType } from './record.ts'

const NAME = /^ledger-(\d{6})\.seg$/

export function segmentName(n: number): string {
  return `ledger-${String(n).padStart(6, '0')}.seg`
}

/** Segment numbers present in dir, which must run 1, 2, 3, … without a gap. */
export function listSegments(dir: string): number[] {
  const numbers = readdirSync(dir).flatMap((f) => {
    const m = NAME.exec(f)
    return m ? [Number(m[1])] : []
  }).sort((a, b) => a - b)
  numbers.forEach((n, i) => {
    if (n !== i + 1) {
      throw new ZixtError(ErrorCode.corrupt, `${join(dir, segmentName(i + 1))}: segment missing (found ${segmentName(n)} after it)`, { file: segmentName(i + 1) })
    }
  })
  return numbers
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export type ScannedRecord = { readonly offset: number; readonly type: RecordType; readonly payload: Buffer }
export type ScanFailure = { readonly offset: number; readonly reason: string }

/**
 * Reads a segment sequentially through one large buffer and hands each intact
 * record to `visit` (payload is a view valid only during the call). Stops at the
 * first record that is incomplete or fails its checks and reports where.
 * `from` (a record boundary) lets a follower read only what was appended since.
 */
export function scanSegment(fd: number, size: number, visit: (r: ScannedRecord) => void, bufferBytes = 8 << 20, from = 0): ScanFailure | null {
  const reader = new WindowReader(fd, size, bufferBytes, from)
  let offset = from
  while (offset < size) {
    if (!reader.ensure(offset, RECORD_HEADER_BYTES)) return { offset, reason: `incomplete record header (${size - offset} bytes left)` }
    const h = checkHeader(reader.buf, offset - reader.start)
    if (h.kind === 'bad') return { offset, reason: h.reason }
    const total = RECORD_OVERHEAD_BYTES + h.length
    if (!reader.ensure(offset, total)) return { offset, reason: `incomplete record: ${total} bytes declared, ${size - offset} left` }
    const at = offset - reader.start
    if (!checksumMatches(reader.buf, at, h.length)) return { offset, reason: 'checksum mismatch' }
    visit({ offset, type: h.type, payload: reader.buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + h.length) })
    offset += total
  }
  return null
}

/**
 * Is there any intact record starting after `from`? Used only after a bad record
 * in the last segment: if an intact record follows, the bad one was not a torn
 * tail but damage inside data that had been written (and acknowledged) before.
 */
export function intactRecordAfter(fd: number, size: number, from: number): number | null {
  const reader = new WindowReader(fd, size, 8 << 20, from + 1)
  for (let p = from + 1; p + RECORD_OVERHEAD_BYTES <= size; p++) {
    if (!reader.ensure(p, RECORD_HEADER_BYTES)) return null
    const h = checkHeader(reader.buf, p - reader.start)
    if (h.kind === 'bad' || p + RECORD_OVERHEAD_BYTES + h.length > size) continue
    if (!reader.ensure(p, RECORD_OVERHEAD_BYTES + h.length)) continue
    if (checksumMatches(reader.buf, p - reader.start, h.length)) return p
  }
  return null
}

/** A sliding window over a file: ensure(offset, n) makes [offset, offset + n) addressable in buf. */
class WindowReader {
  buf: Buffer
  start = 0
  length = 0
  private readonly fd: number
  private readonly size: number
  /**
   * The buffer holds what is left from `from`, up to bufferBytes: a follower reading the few
   * kB appended since its last look after every block allocated a whole bufferBytes (1 MB)
   * each time, and those short-lived buffers drove the web process's collector.
   */
  constructor(fd: number, size: number, bufferBytes: number, from: number) {
    this.fd = fd
    this.size = size
    this.buf = Buffer.allocUnsafe(Math.min(bufferBytes, Math.max(size - from, 64)))
  }
  ensure(offset: number, n: number): boolean {
    if (offset + n > this.size) return false
    if (offset >= this.start && offset + n <= this.start + this.length) return true
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2))
    const want = Math.min(this.buf.length, this.size - offset)
    let got = 0
    while (got < want) {
      const r = readSync(this.fd, this.buf, got, want - got, offset + got)
      if (r === 0) break
      got += r
    }
    this.start = offset
    this.length = got
    return got >= n
  }
}
