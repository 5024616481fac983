// Event envelopes: canonical encoding, hashing and sealing (DESIGN "The ledger").
import { assert } from '../assert.ts'
import { ErrorCode, ZixtError } from '../errors.ts'
import { limits } from '../limits.ts'
import { decode, encode, type Value } from './codec.ts'
import type { EventDraft, EventEnvelope } from './envelope.ts'
import { checkTextLength, isMap, readBytes, readMap, readPayload, readText, readUint } from './fields.ts'
import { leafHash, type HashFn } from './merkle.ts'

const EVENT_KEYS = [
  'position', 'stream', 'streamVersion', 'prevHash', 'type', 'payload', 'commandId', 'author', 'blockHeight', 'time',
] as const

/** The hash that precedes a stream's first event. */
export const ZERO_HASH: Uint8Array = new Uint8Array(limits.ledgerHashBytes)

export function eventToValue(e: EventEnvelope): Value {
  return {
    position: e.position,
    stream: e.stream,
    streamVersion: e.streamVersion,
    prevHash: e.prevHash,
    type: e.type,
    payload: e.payload,
    commandId: e.commandId,
    author: e.author,
    blockHeight: e.blockHeight,
    time: e.time,
  }
}

/** Validates shape, field types and limits; errors name the field under `field`. */
export function eventFromValue(v: Value, field = 'event'): EventEnvelope {
  const m = readMap(v, field, EVENT_KEYS)
  return {
    position: readUint(m, 'position', field),
    stream: readText(m, 'stream', field, limits.streamBytesMax, 1),
    streamVersion: readUint(m, 'streamVersion', field),
    prevHash: readBytes(m, 'prevHash', field, limits.ledgerHashBytes, limits.ledgerHashBytes),
    type: readText(m, 'type', field, limits.eventTypeBytesMax, 1),
    payload: readPayload(m, 'payload', field),
    commandId: readText(m, 'commandId', field, limits.ledgerIdBytesMax),
    author: readText(m, 'author', field, limits.ledgerIdBytesMax),
    blockHeight: readUint(m, 'blockHeight', field),
    time: readUint(m, 'time', field),
  }
}

export function encodeEvent(e: EventEnvelope): Uint8Array {
  return encode(eventToValue(e))
}

export function decodeEvent(bytes: Uint8Array): EventEnvelope {
  return eventFromValue(decode(bytes))
}

/**
 * An event's hash is its RFC 9162 Merkle leaf hash, HASH(0x00 || canonical bytes):
 * the same value links the stream chain (the next event's prevHash) and sits in
 * the ledger tree, so each event is hashed once and an inclusion proof starts from it.
 */
export function eventHash(e: EventEnvelope, hash: HashFn): Uint8Array {
  return eventBytesHash(encodeEvent(e), hash)
}

export function eventBytesHash(bytes: Uint8Array, hash: HashFn): Uint8Array {
  const h = leafHash(bytes, hash)
  assert(h.length === limits.ledgerHashBytes, `ledger hash is ${limits.ledgerHashBytes} bytes`)
  return h
}

/** The last event of a stream: what the next event of that stream links to. */
export type StreamHead = { readonly streamVersion: number; readonly hash: Uint8Array }

/** Read access to the heads of all streams: a ReadonlyMap fits, so does a persistent map. */
export type StreamHeads = { get(stream: string): StreamHead | undefined }

export type SealContext = {
  readonly position: number // global position of the first draft
  readonly blockHeight: number
  readonly time: number
  readonly commandId: string
  readonly author: string
}

export type Sealed = {
  readonly events: EventEnvelope[]
  /** eventHash of each event (same index): the block's Merkle leaves, so buildBlock need not hash again. */
  readonly hashes: Uint8Array[]
  /** Only the streams these drafts touched, with their new heads: merge them into your StreamHeads. */
  readonly heads: ReadonlyMap<string, StreamHead>
}

/**
 * Turns drafts into envelopes: consecutive global positions from ctx.position,
 * per-stream versions from 0, and prevHash = hash of the stream's previous event
 * (ZERO_HASH for the first). Touches no state: the caller merges `heads`, which
 * costs O(streams touched), not O(all streams).
 */
export function sealEvents(heads: StreamHeads, drafts: readonly EventDraft[], ctx: SealContext, hash: HashFn): Sealed {
  checkDrafts(drafts)
  const changed = new Map<string, StreamHead>()
  const events: EventEnvelope[] = []
  const hashes: Uint8Array[] = []
  for (let i = 0; i < drafts.length; i++) {
    const d = drafts[i]!
    const prev = changed.get(d.stream) ?? heads.get(d.stream)
    const e: EventEnvelope = {
      position: ctx.position + i,
      stream: d.stream,
      streamVersion: prev === undefined ? 0 : prev.streamVersion + 1,
      prevHash: prev === undefined ? ZERO_HASH : prev.hash,
      type: d.type,
      payload: d.payload,
      commandId: ctx.commandId,
      author: ctx.author,
      blockHeight: ctx.blockHeight,
      time: ctx.time,
    }
    const h = eventHash(e, hash)
    events.push(e)
    hashes.push(h)
    changed.set(d.stream, { streamVersion: e.streamVersion, hash: h })
  }
  return { events, hashes, heads: changed }
}

function checkDrafts(drafts: readonly EventDraft[]): void {
  if (drafts.length > limits.eventsPerBlockMax) {
    throw new ZixtError(ErrorCode.limitExceeded, `drafts: ${drafts.length} events exceeds ${limits.eventsPerBlockMax}`, { field: 'drafts' })
  }
  for (let i = 0; i < drafts.length; i++) {
    const d = drafts[i]!
    checkTextLength(d.stream, `drafts[${i}].stream`, limits.streamBytesMax, 1)
    checkTextLength(d.type, `drafts[${i}].type`, limits.eventTypeBytesMax, 1)
    if (!isMap(d.payload as Value)) throw new ZixtError(ErrorCode.schema, `drafts[${i}].payload: expected a map`, { field: `drafts[${i}].payload` })
  }
}

/** A copy of `base` with `changes` applied: for small states and tests; large states keep a persistent map. */
export function mergeStreamHeads(base: ReadonlyMap<string, StreamHead>, changes: ReadonlyMap<string, StreamHead>): Map<string, StreamHead> {
  const out = new Map(base)
  for (const [k, v] of changes) out.set(k, v)
  return out
}
