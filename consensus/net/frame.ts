// Length-prefixed frames: 4-byte big-endian length, then that many bytes. A frame longer
// than the limit ends the connection (the peer is either broken or hostile).
import { assert } from '../../domain/assert.ts'

export const FrameTag = {
  hello: 0,
  pbft: 1,
  treeHead: 2,
  request: 3,
  reply: 4,
} as const
export type FrameTag = (typeof FrameTag)[keyof typeof FrameTag]

/** The 5 bytes before a payload of payloadLength bytes: length (tag included) and tag. */
export function frameHeader(tag: FrameTag, payloadLength: number): Buffer {
  const out = Buffer.allocUnsafe(5)
  out.writeUInt32BE(payloadLength + 1, 0)
  out[4] = tag
  return out
}

export function frame(tag: FrameTag, payload: Uint8Array): Buffer {
  return Buffer.concat([frameHeader(tag, payload.length), payload])
}

export class FrameReader {
  private chunks: Buffer[] = []
  private buffered = 0
  readonly frameBytesMax: number
  constructor(frameBytesMax: number) {
    assert(frameBytesMax > 0 && frameBytesMax < 2 ** 32, 'frame limit')
    this.frameBytesMax = frameBytesMax
  }
  /** Feeds bytes; returns the complete frames, or null when a frame exceeds the limit. */
  push(data: Buffer): { tag: number; payload: Uint8Array }[] | null {
    this.chunks.push(data)
    this.buffered += data.length
    const out: { tag: number; payload: Uint8Array }[] = []
    for (;;) {
      if (this.buffered < 4) return out
      let head = this.chunks[0]!
      if (head.length < 4) {
        head = Buffer.concat(this.chunks)
        this.chunks = [head]
      }
      const len = head.readUInt32BE(0)
      if (len === 0 || len > this.frameBytesMax) return null
      if (this.buffered < 4 + len) return out
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks)
      const body = all.subarray(4, 4 + len)
      out.push({ tag: body[0]!, payload: new Uint8Array(body.buffer, body.byteOffset + 1, len - 1) })
      const rest = all.subarray(4 + len)
      this.chunks = rest.length > 0 ? [rest] : []
      this.buffered = rest.length
    }
  }
}
