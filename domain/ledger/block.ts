// Blocks: canonical encoding, hashes and the checks that bind a block to its
// predecessor (DESIGN "The ledger"). The block hash covers the header only; the
// header commits to the commands, the events and the whole event tree through
// commandsRoot, eventsRoot and treeRoot, and the certificate (2f+1 commit
// signatures over commitMessage) is attached after the fact.
import { assert } from '../assert.ts'
import { ErrorCode, ZixtError } from '../errors.ts'
import { limits } from '../limits.ts'
import { decode, encode, equalBytes, type Value } from './codec.ts'
import { domainMessage } from './domainMessage.ts'
import type { Block, BlockHeader, CommitSignature, EventEnvelope } from './envelope.ts'
import { eventBytesHash, eventFromValue, eventToValue, encodeEvent, ZERO_HASH, type StreamHead, type StreamHeads } from './event.ts'
import { readArray, readBytes, readMap, readText, readUint, schemaError } from './fields.ts'
import { leafHash, MerkleFrontier, rootHash, type HashFn } from './merkle.ts'

const HEADER_KEYS = ['height', 'view', 'prevBlockHash', 'time', 'commandsRoot', 'eventsRoot', 'treeSize', 'treeRoot', 'proposer'] as const
const BLOCK_KEYS = ['header', 'commands', 'events', 'certificate'] as const
const COMMIT_KEYS = ['replica', 'keyId', 'signature'] as const
const H = limits.ledgerHashBytes

export function headerToValue(h: BlockHeader): Value {
  return {
    height: h.height, view: h.view, prevBlockHash: h.prevBlockHash, time: h.time, commandsRoot: h.commandsRoot,
    eventsRoot: h.eventsRoot, treeSize: h.treeSize, treeRoot: h.treeRoot, proposer: h.proposer,
  }
}

export function headerFromValue(v: Value, field = 'header'): BlockHeader {
  const m = readMap(v, field, HEADER_KEYS)
  return {
    height: readUint(m, 'height', field),
    view: readUint(m, 'view', field),
    prevBlockHash: readBytes(m, 'prevBlockHash', field, H, H),
    time: readUint(m, 'time', field),
    commandsRoot: readBytes(m, 'commandsRoot', field, H, H),
    eventsRoot: readBytes(m, 'eventsRoot', field, H, H),
    treeSize: readUint(m, 'treeSize', field),
    treeRoot: readBytes(m, 'treeRoot', field, H, H),
    proposer: readUint(m, 'proposer', field, limits.replicasMax - 1),
  }
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  return encode(headerToValue(h))
}

export function decodeHeader(bytes: Uint8Array): BlockHeader {
  return headerFromValue(decode(bytes))
}

function commitFromValue(v: Value, field: string): CommitSignature {
  const m = readMap(v, field, COMMIT_KEYS)
  return {
    replica: readUint(m, 'replica', field, limits.replicasMax - 1),
    keyId: readText(m, 'keyId', field, limits.ledgerIdBytesMax),
    signature: readBytes(m, 'signature', field, limits.signatureBytesMax),
  }
}

export function blockToValue(b: Block): Value {
  return {
    header: headerToValue(b.header),
    commands: b.commands.slice(),
    events: b.events.map(eventToValue),
    certificate: b.certificate.map((c) => ({ replica: c.replica, keyId: c.keyId, signature: c.signature })),
  }
}

export function blockFromValue(v: Value, field = 'block'): Block {
  const m = readMap(v, field, BLOCK_KEYS)
  const commands = readArray(m, 'commands', field, limits.commandsPerBlockMax).map((c, i) => {
    if (!(c instanceof Uint8Array)) throw schemaError(`${field}.commands[${i}]`, 'expected a byte string')
    if (c.length > limits.commandBytesMax) throw schemaError(`${field}.commands[${i}]`, `${c.length} bytes exceeds ${limits.commandBytesMax}`)
    return c
  })
  return {
    header: headerFromValue(m.header!, `${field}.header`),
    commands,
    events: readArray(m, 'events', field, limits.eventsPerBlockMax).map((e, i) => eventFromValue(e, `${field}.events[${i}]`)),
    certificate: readArray(m, 'certificate', field, limits.replicasMax).map((c, i) => commitFromValue(c, `${field}.certificate[${i}]`)),
  }
}

function checkCount(field: string, n: number, max: number): void {
  if (n > max) throw new ZixtError(ErrorCode.limitExceeded, `${field}: ${n} items exceeds ${max}`, { field })
}

/** Refuses any block decodeBlock() would refuse, so a stored block always reads back. */
export function encodeBlock(b: Block): Uint8Array {
  checkCount('block.commands', b.commands.length, limits.commandsPerBlockMax)
  checkCount('block.events', b.events.length, limits.eventsPerBlockMax)
  checkCount('block.certificate', b.certificate.length, limits.replicasMax)
  for (let i = 0; i < b.commands.length; i++) {
    if (b.commands[i]!.length > limits.commandBytesMax) {
      throw new ZixtError(ErrorCode.limitExceeded, `block.commands[${i}]: ${b.commands[i]!.length} bytes exceeds ${limits.commandBytesMax}`, { field: `block.commands[${i}]` })
    }
  }
  const value = blockToValue(b)
  blockFromValue(value) // field types and limits, exactly as on decode
  const bytes = encode(value, { itemsMax: limits.blockItemsMax })
  if (bytes.length > limits.blockBytesMax) {
    throw new ZixtError(ErrorCode.limitExceeded, `block ${b.header.height}: ${bytes.length} bytes exceeds ${limits.blockBytesMax}`, { field: 'block' })
  }
  return bytes
}

export function decodeBlock(bytes: Uint8Array): Block {
  if (bytes.length > limits.blockBytesMax) throw schemaError('block', `${bytes.length} bytes exceeds ${limits.blockBytesMax}`)
  return blockFromValue(decode(bytes, { itemsMax: limits.blockItemsMax }))
}

export function blockHash(header: BlockHeader, hash: HashFn): Uint8Array {
  const h = hash(encodeHeader(header))
  assert(h.length === H, `block hash is ${H} bytes`)
  return h
}

/** Merkle root (RFC 9162) over the canonical bytes of each command, in block order. */
export function commandsRoot(commands: readonly Uint8Array[], hash: HashFn): Uint8Array {
  return rootHash(commands.map((c) => leafHash(c, hash)), hash)
}

/** Merkle root over the block's events; its leaves are the event hashes. */
export function eventsRoot(events: readonly EventEnvelope[], hash: HashFn): Uint8Array {
  return rootHash(events.map((e) => eventBytesHash(encodeEvent(e), hash)), hash)
}

export const COMMIT_PREFIX = 'zixt/commit/v1'

/** The bytes each replica signs (ML-DSA-65) to commit block `height` with hash `blockHash` in `view`. */
export function commitMessage(view: number, height: number, hashOfBlock: Uint8Array): Uint8Array {
  assert(Number.isSafeInteger(view) && view >= 0 && Number.isSafeInteger(height) && height >= 0, 'commit view and height')
  assert(hashOfBlock.length === H, `commit block hash is ${H} bytes`)
  return domainMessage(COMMIT_PREFIX, { view, height, blockHash: hashOfBlock })
}

/** What a block links to: the chain tip before it. */
export type ChainTip = {
  readonly height: number // -1 before genesis
  readonly blockHash: Uint8Array // ZERO_HASH before genesis
  readonly frontier: MerkleFrontier // the event tree after the tip
}

export const GENESIS_TIP: ChainTip = { height: -1, blockHash: ZERO_HASH, frontier: MerkleFrontier.empty() }

export type BlockDraft = {
  readonly view: number
  readonly time: number
  readonly proposer: number
  readonly commands: readonly Uint8Array[]
  readonly events: readonly EventEnvelope[] // sealed against the tip (positions from tip.frontier.size)
  /** eventHash of each event, when the caller has them from sealEvents (saves encoding and hashing each event again). */
  readonly leaves?: readonly Uint8Array[]
  readonly certificate?: readonly CommitSignature[]
}

/** Builds the header for events already sealed on `tip`; returns the block and the new tip. */
export function buildBlock(draft: BlockDraft, tip: ChainTip, hash: HashFn): { block: Block; tip: ChainTip } {
  assert(draft.leaves === undefined || draft.leaves.length === draft.events.length, `buildBlock: ${draft.leaves?.length} leaves for ${draft.events.length} events`)
  const leaves = draft.leaves ?? draft.events.map((e) => eventBytesHash(encodeEvent(e), hash))
  const frontier = tip.frontier.appendAll(leaves, hash)
  const header: BlockHeader = {
    height: tip.height + 1,
    view: draft.view,
    prevBlockHash: tip.blockHash,
    time: draft.time,
    commandsRoot: commandsRoot(draft.commands, hash),
    eventsRoot: rootHash(leaves, hash),
    treeSize: frontier.size,
    treeRoot: frontier.root(hash),
    proposer: draft.proposer,
  }
  const block: Block = { header, commands: draft.commands, events: draft.events, certificate: draft.certificate ?? [] }
  return { block, tip: { height: header.height, blockHash: blockHash(header, hash), frontier } }
}

export type BlockCheck =
  | { readonly kind: 'valid'; readonly tip: ChainTip; readonly heads: ReadonlyMap<string, StreamHead> }
  | { readonly kind: 'invalid'; readonly field: string; readonly reason: string }

/**
 * Everything a block claims that can be checked without keys: it extends `tip`,
 * its events sit at the next positions with this block's height and time, its
 * roots match its content, and (given the stream heads) every stream chain links.
 * Commit signatures are checked by consensus, which holds the replica keys.
 */
export function verifyBlock(block: Block, tip: ChainTip, hash: HashFn, heads?: StreamHeads): BlockCheck {
  const h = block.header
  const bad = (field: string, reason: string): BlockCheck => ({ kind: 'invalid', field, reason })
  if (h.height !== tip.height + 1) return bad('header.height', `${h.height} does not follow ${tip.height}`)
  if (!equalBytes(h.prevBlockHash, tip.blockHash)) return bad('header.prevBlockHash', 'does not match the previous block')
  const base = tip.frontier.size
  if (h.treeSize !== base + block.events.length) return bad('header.treeSize', `${h.treeSize} != ${base} + ${block.events.length} events`)
  const changed = new Map<string, StreamHead>()
  const leaves: Uint8Array[] = []
  for (let i = 0; i < block.events.length; i++) {
    const e = block.events[i]!
    const f = `events[${i}]`
    if (e.position !== base + i) return bad(`${f}.position`, `${e.position}, expected ${base + i}`)
    if (e.blockHeight !== h.height) return bad(`${f}.blockHeight`, `${e.blockHeight}, expected ${h.height}`)
    if (e.time !== h.time) return bad(`${f}.time`, `${e.time}, expected the block time ${h.time}`)
    const leaf = eventBytesHash(encodeEvent(e), hash)
    leaves.push(leaf)
    if (heads === undefined) continue
    const prev = changed.get(e.stream) ?? heads.get(e.stream)
    const version = prev === undefined ? 0 : prev.streamVersion + 1
    if (e.streamVersion !== version) return bad(`${f}.streamVersion`, `${e.streamVersion}, expected ${version} in ${e.stream}`)
    if (!equalBytes(e.prevHash, prev === undefined ? ZERO_HASH : prev.hash)) return bad(`${f}.prevHash`, `does not link to the previous event of ${e.stream}`)
    changed.set(e.stream, { streamVersion: version, hash: leaf })
  }
  if (!equalBytes(h.commandsRoot, commandsRoot(block.commands, hash))) return bad('header.commandsRoot', 'does not match the commands')
  if (!equalBytes(h.eventsRoot, rootHash(leaves, hash))) return bad('header.eventsRoot', 'does not match the events')
  const frontier = tip.frontier.appendAll(leaves, hash)
  if (!equalBytes(h.treeRoot, frontier.root(hash))) return bad('header.treeRoot', 'does not match the event tree')
  return { kind: 'valid', tip: { height: h.height, blockHash: blockHash(h, hash), frontier }, heads: changed }
}
