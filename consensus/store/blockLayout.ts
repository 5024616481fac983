// Where things sit inside canonical block bytes, found without decoding payloads:
// the store indexes every event's byte span (and stream) when it appends a block
// or scans a segment, so reads decode single events instead of whole blocks.
import { assert } from '../../domain/assert.ts'
import { mapValueSpan, readHead, skipItem } from '../../domain/ledger/codec.ts'

const MT_TEXT = 3
const MT_ARRAY = 4
const MT_MAP = 5
const utf8 = new TextDecoder('utf-8', { fatal: true })

export type Span = { readonly start: number; readonly end: number }
export type BlockLayout = {
  readonly header: Span
  readonly events: readonly Span[]
  readonly streams: readonly string[] // stream of each event, in order
}

function readText(bytes: Uint8Array, at: number): { text: string; next: number } {
  const h = readHead(bytes, at)
  assert(h.major === MT_TEXT, 'text expected in block layout')
  return { text: utf8.decode(bytes.subarray(h.next, h.next + h.arg)), next: h.next + h.arg }
}

/** The layout of canonical block bytes (which the caller has validated or checksummed). */
export function blockLayout(bytes: Uint8Array): BlockLayout {
  const top = readHead(bytes, 0)
  assert(top.major === MT_MAP, 'a block is a map')
  let at = top.next
  let header: Span | null = null
  let events: Span[] = []
  for (let i = 0; i < top.arg; i++) {
    const key = readText(bytes, at)
    at = key.next
    const end = skipItem(bytes, at)
    if (key.text === 'header') header = { start: at, end }
    else if (key.text === 'events') events = itemSpans(bytes, at)
    at = end
  }
  assert(at === bytes.length && header !== null, 'block layout covers the whole block')
  return { header, events, streams: events.map((s) => eventStream(bytes, s.start)) }
}

function itemSpans(bytes: Uint8Array, at: number): Span[] {
  const h = readHead(bytes, at)
  assert(h.major === MT_ARRAY, 'events is an array')
  const spans: Span[] = []
  let p = h.next
  for (let i = 0; i < h.arg; i++) {
    const end = skipItem(bytes, p)
    spans.push({ start: p, end })
    p = end
  }
  return spans
}

/** The "stream" field of the event map that starts at `at`. */
function eventStream(bytes: Uint8Array, at: number): string {
  const stream = mapValueSpan(bytes, at, 'stream')
  assert(stream !== null, 'event has a stream')
  return readText(bytes, stream.start).text
}
