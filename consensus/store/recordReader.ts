// Positioned reads of stored records, through a small cache of open descriptors.
// Every whole-record read re-checks the CRC (assert after read): damage that
// happened after open is reported, never served. Partial reads (`bytes`) check nothing:
// their callers do (ledgerReads.ts: a stream's events by their hash chain).
import { closeSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { limits } from '../../domain/limits.ts'
import { corruptionError } from './scan.ts'
import { checkHeader, checksumMatches, RECORD_HEADER_BYTES, RECORD_OVERHEAD_BYTES, type RecordType } from './record.ts'
import { segmentName } from './segmentFile.ts'

export class RecordReader {
  private readonly dir: string
  private readonly fds = new Map<number, number>() // segment → fd, oldest first

  constructor(dir: string) {
    this.dir = dir
  }

  private fd(segment: number): number {
    const cached = this.fds.get(segment)
    if (cached !== undefined) {
      this.fds.delete(segment) // move to the back: most recently used
      this.fds.set(segment, cached)
      return cached
    }
    if (this.fds.size >= limits.storeOpenSegmentsMax) {
      const [oldest, fd] = this.fds.entries().next().value as [number, number]
      closeSync(fd)
      this.fds.delete(oldest)
    }
    const fd = openSync(join(this.dir, segmentName(segment)), 'r')
    this.fds.set(segment, fd)
    return fd
  }

  /** Exactly `length` bytes at `offset`, or a corruption error when the file is shorter. */
  bytes(segment: number, offset: number, length: number, height: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    const fd = this.fd(segment)
    let got = 0
    while (got < length) {
      const n = readSync(fd, out, got, length - got, offset + got)
      if (n === 0) throw corruptionError(segmentName(segment), offset, height, `file ends ${length - got} bytes early`)
      got += n
    }
    return out
  }

  /** The payload of the record at `offset`, checked against its type, length and CRC. */
  record(segment: number, offset: number, type: RecordType, length: number, height: number): Buffer {
    const buf = this.bytes(segment, offset, length + RECORD_OVERHEAD_BYTES, height)
    const h = checkHeader(buf, 0)
    const file = segmentName(segment)
    if (h.kind === 'bad') throw corruptionError(file, offset, height, h.reason)
    if (h.type !== type || h.length !== length) throw corruptionError(file, offset, height, `record header changed since it was indexed`)
    if (!checksumMatches(buf, 0, length)) throw corruptionError(file, offset, height, 'checksum mismatch')
    return buf.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + length)
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd)
    this.fds.clear()
  }
}
