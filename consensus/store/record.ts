// One record of a segment file:
//   magic 0x5a | type u8 | payload length u32 LE | payload | CRC-32 u32 LE
// The CRC (ISO-HDLC/IEEE, zlib.crc32) covers magic, type, length and payload, so
// a torn write or a flipped bit anywhere in a record is caught on read.
import { crc32 } from 'node:zlib'
import { assert } from '../../domain/assert.ts'
import { limits } from '../../domain/limits.ts'

export const RECORD_MAGIC = 0x5a // 'Z'
export const RecordType = {
  block: 1, // canonical block bytes (domain/ledger/block.ts)
  treeHead: 2, // canonical signed tree head bytes (domain/ledger/treeHead.ts)
  frontier: 3, // canonical { height, frontier }: the event tree's right edge after that block
  certificate: 4, // canonical { height, agreed, certificate }: a block's commit certificate (certificateRecord.ts)
} as const
export type RecordType = (typeof RecordType)[keyof typeof RecordType]

export const RECORD_HEADER_BYTES = 6
export const RECORD_OVERHEAD_BYTES = 10

export function isRecordType(t: number): t is RecordType {
  return t === RecordType.block || t === RecordType.treeHead || t === RecordType.frontier || t === RecordType.certificate
}

export function frameRecord(type: RecordType, payload: Uint8Array): Buffer {
  assert(payload.length <= limits.recordBytesMax, 'record payload within recordBytesMax')
  const out = Buffer.allocUnsafe(payload.length + RECORD_OVERHEAD_BYTES)
  out[0] = RECORD_MAGIC
  out[1] = type
  out.writeUInt32LE(payload.length, 2)
  out.set(payload, RECORD_HEADER_BYTES)
  out.writeUInt32LE(crc32(out.subarray(0, RECORD_HEADER_BYTES + payload.length)), RECORD_HEADER_BYTES + payload.length)
  return out
}

export type HeaderCheck =
  | { readonly kind: 'ok'; readonly type: RecordType; readonly length: number }
  | { readonly kind: 'bad'; readonly reason: string }

/** Checks the 6 header bytes at `at` (the caller guarantees they are there). */
export function checkHeader(buf: Buffer, at: number): HeaderCheck {
  if (buf[at] !== RECORD_MAGIC) return { kind: 'bad', reason: `bad magic byte 0x${buf[at]!.toString(16)}` }
  const type = buf[at + 1]!
  if (!isRecordType(type)) return { kind: 'bad', reason: `unknown record type ${type}` }
  const length = buf.readUInt32LE(at + 2)
  if (length > limits.recordBytesMax) return { kind: 'bad', reason: `record length ${length} exceeds ${limits.recordBytesMax}` }
  return { kind: 'ok', type, length }
}

/** The whole record (header, payload, CRC) sits in buf at `at`. */
export function checksumMatches(buf: Buffer, at: number, length: number): boolean {
  const end = at + RECORD_HEADER_BYTES + length
  return crc32(buf.subarray(at, end)) === buf.readUInt32LE(end)
}
