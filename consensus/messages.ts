// PBFT wire messages (Castro & Liskov, OSDI '99 §4) and their canonical encoding.
// Replica messages that are forwarded as proof (pre-prepares, view changes, new views,
// checkpoints) are signed by the sender's ML-DSA-65 operational key over encode(body) under
// the context 'zixt/pbft/v1'; prepares and commits travel unsigned over the channel that
// authenticates their sender (a commit carries its certificate signature). A receiver checks
// shape, then signature, before the replica looks at it. Decoders throw on anything
// malformed; callers drop it.
import { decode, encode, mapValueSpan, type Value } from '../domain/ledger/codec.ts'
import type { CommitSignature } from '../domain/ledger/envelope.ts'

export const PBFT_SIGNATURE_CONTEXT = 'zixt/pbft/v1'
export const frameBytesMax = 80 * 1024 * 1024 // a blocks reply may carry fetchBlocksMax blocks
export const batchBytesMax = 32 * 1024 * 1024
export const proofItemsMax = 64 // view changes in a new view, signatures in a certificate
export const prePreparedMax = 16 // blocks a view change reports pre-prepared at the next height

export type Rejection = { readonly commandId: string; readonly code: string }

export type PrePrepare = {
  readonly type: 'prePrepare'
  readonly view: number
  readonly height: number
  readonly time: number
  readonly headerView: number // the view the block was first proposed in (re-proposals keep it)
  readonly proposer: number
  readonly batch: readonly Uint8Array[] // every command in order, accepted and rejected
  readonly blockHash: Uint8Array
  readonly rejected: readonly Rejection[]
  /**
   * The commit certificate of block height − 1 as the primary holds it (empty for height 0).
   * Agreed through this block: when it commits, every replica stores exactly these
   * signatures as the certificate of height − 1, so stored ledgers are byte-identical.
   */
  readonly prevCertificate: readonly CommitSignature[]
}
/**
 * proposalDigest: SHA3-256 of proposalDigestInput(prePrepare): the certificate of the previous
 * height and the rejections, which the block hash does not cover (a rejected command leaves no
 * trace in the block), so prepared/committed binds them too.
 */
export type Prepare = { readonly type: 'prepare'; readonly view: number; readonly height: number; readonly blockHash: Uint8Array; readonly proposalDigest: Uint8Array }
export type Commit = {
  readonly type: 'commit'
  readonly view: number
  readonly height: number
  readonly blockHash: Uint8Array
  readonly headerView: number
  readonly certSig: Uint8Array // over commitMessage(headerView, height, blockHash): goes into the block
  readonly proposalDigest: Uint8Array // as in Prepare
}
export type Checkpoint = { readonly type: 'checkpoint'; readonly height: number; readonly blockHash: Uint8Array }
/** Proof that a block is committed: its hash and 2f+1 commit signatures (height -1 = nothing yet, no signatures). */
export type CommitProof = {
  readonly height: number
  readonly blockHash: Uint8Array
  readonly headerView: number
  readonly certificate: readonly CommitSignature[]
}
/** A block pre-prepared at a height, identified as prepares and commits name it, and the latest view it was pre-prepared in. */
export type PrePrepared = { readonly view: number; readonly blockHash: Uint8Array; readonly proposalDigest: Uint8Array }
/**
 * The sender's word on the height after `committed` (Castro & Liskov, ACM TOCS 2002, the
 * view change of BFT without signed prepares). `prepared`: the pre-prepare, signed by its primary,
 * of the block the sender prepared there (2f matching prepares received over authenticated
 * channels), or null. `prePrepared`: every block it pre-prepared there, with the latest view.
 * Neither can be proven to others: the new view's rule (replica.ts, planNewView) counts
 * claims, so f liars cannot move it.
 */
export type ViewChange = {
  readonly type: 'viewChange'
  readonly newView: number
  readonly committed: CommitProof
  readonly prepared: Signed | null
  readonly prePrepared: readonly PrePrepared[]
}
export type NewView = { readonly type: 'newView'; readonly view: number; readonly viewChanges: readonly Signed[]; readonly prePrepare: Signed }
export type Fetch = { readonly type: 'fetch'; readonly from: number; readonly count: number }
/** agreedCount: the first agreedCount blocks carry their agreed certificate; the rest the sender's own proof. */
export type Blocks = { readonly type: 'blocks'; readonly blocks: readonly Uint8Array[]; readonly agreedCount: number }

export type Body = PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | Fetch | Blocks
/**
 * bodyBytes: the body's encoding as it arrived (received pre-prepares only), the bytes its
 * signature covers, so checking it does not encode a whole batch again.
 */
export type Signed = { readonly from: number; readonly body: Body; readonly sig: Uint8Array; readonly bodyBytes?: Uint8Array }

// ---- encoding -------------------------------------------------------------------------

function certToValue(c: readonly CommitSignature[]): Value {
  return c.map((s) => ({ replica: s.replica, keyId: s.keyId, signature: s.signature }))
}

/** Canonical bytes of a certificate. */
export function encodeCertificate(c: readonly CommitSignature[]): Uint8Array {
  return encode(certToValue(c))
}

/** What proposalDigest hashes: the pre-prepare's certificate of the previous height and its rejections, in order. */
export function proposalDigestInput(b: PrePrepare): Uint8Array {
  return encode([certToValue(b.prevCertificate), b.rejected.map((r) => [r.commandId, r.code])])
}

export function bodyToValue(b: Body): Value {
  switch (b.type) {
    case 'prePrepare':
      return { ...b, batch: [...b.batch], rejected: b.rejected.map((r) => ({ commandId: r.commandId, code: r.code })), prevCertificate: certToValue(b.prevCertificate) }
    case 'prepare':
    case 'commit':
    case 'checkpoint':
    case 'fetch':
      return { ...b }
    case 'blocks':
      return { type: b.type, blocks: [...b.blocks], agreedCount: b.agreedCount }
    case 'viewChange':
      return {
        type: b.type,
        newView: b.newView,
        committed: { ...b.committed, certificate: certToValue(b.committed.certificate) },
        prepared: b.prepared === null ? null : signedToValue(b.prepared),
        prePrepared: b.prePrepared.map((p) => ({ view: p.view, blockHash: p.blockHash, proposalDigest: p.proposalDigest })),
      }
    case 'newView':
      return { type: b.type, view: b.view, viewChanges: b.viewChanges.map(signedToValue), prePrepare: signedToValue(b.prePrepare) }
  }
}

export function signedToValue(s: Signed): Value {
  return { from: s.from, body: bodyToValue(s.body), sig: s.sig }
}

export function encodeBody(b: Body): Uint8Array {
  return encode(bodyToValue(b))
}

export function encodeSigned(s: Signed): Uint8Array {
  return encode(signedToValue(s))
}

// ---- decoding (strict) -----------------------------------------------------------------

export class MalformedMessage extends Error {
  override name = 'MalformedMessage'
}

type Obj = { readonly [k: string]: Value }
function obj(v: Value | undefined, what: string): Obj {
  if (v === null || v === undefined || typeof v !== 'object' || v instanceof Uint8Array || Array.isArray(v)) throw new MalformedMessage(`${what}: not a map`)
  return v as Obj
}
function nat(v: Value | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MalformedMessage(`${what}: not a natural number`)
  return v
}
function bytes(v: Value | undefined, what: string, max = batchBytesMax): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length > max) throw new MalformedMessage(`${what}: not bytes`)
  return v
}
function str(v: Value | undefined, what: string, max = 256): string {
  if (typeof v !== 'string' || v.length > max) throw new MalformedMessage(`${what}: not a string`)
  return v
}
function arr(v: Value | undefined, what: string, max: number): readonly Value[] {
  if (!Array.isArray(v) || v.length > max) throw new MalformedMessage(`${what}: not a list of at most ${max}`)
  return v as readonly Value[]
}
function keys(o: Obj, expected: readonly string[], what: string): void {
  const k = Object.keys(o)
  if (k.length !== expected.length || !expected.every((e) => k.includes(e))) throw new MalformedMessage(`${what}: unexpected fields`)
}
const hash32 = (v: Value | undefined, what: string): Uint8Array => {
  const b = bytes(v, what, 64)
  if (b.length !== 32) throw new MalformedMessage(`${what}: not a 32-byte hash`)
  return b
}

function certFromValue(v: Value | undefined): CommitSignature[] {
  return arr(v, 'certificate', proofItemsMax).map((x) => {
    const o = obj(x, 'certificate[]')
    keys(o, ['replica', 'keyId', 'signature'], 'certificate[]')
    return { replica: nat(o.replica, 'replica'), keyId: str(o.keyId, 'keyId'), signature: bytes(o.signature, 'signature', 8192) }
  })
}

export function bodyFromValue(v: Value, depth = 0): Body {
  const o = obj(v, 'body')
  const type = str(o.type, 'type')
  switch (type) {
    case 'prePrepare': {
      keys(o, ['type', 'view', 'height', 'time', 'headerView', 'proposer', 'batch', 'blockHash', 'rejected', 'prevCertificate'], type)
      const batch = arr(o.batch, 'batch', 100_000).map((c) => bytes(c, 'batch[]'))
      const rejected = arr(o.rejected, 'rejected', 100_000).map((r) => {
        const ro = obj(r, 'rejected[]')
        keys(ro, ['commandId', 'code'], 'rejected[]')
        return { commandId: str(ro.commandId, 'commandId'), code: str(ro.code, 'code') }
      })
      return {
        type, view: nat(o.view, 'view'), height: nat(o.height, 'height'), time: nat(o.time, 'time'), headerView: nat(o.headerView, 'headerView'),
        proposer: nat(o.proposer, 'proposer'), batch, blockHash: hash32(o.blockHash, 'blockHash'), rejected,
        prevCertificate: certFromValue(o.prevCertificate),
      }
    }
    case 'prepare':
      keys(o, ['type', 'view', 'height', 'blockHash', 'proposalDigest'], type)
      return { type, view: nat(o.view, 'view'), height: nat(o.height, 'height'), blockHash: hash32(o.blockHash, 'blockHash'), proposalDigest: hash32(o.proposalDigest, 'proposalDigest') }
    case 'commit':
      keys(o, ['type', 'view', 'height', 'blockHash', 'headerView', 'certSig', 'proposalDigest'], type)
      return {
        type, view: nat(o.view, 'view'), height: nat(o.height, 'height'), blockHash: hash32(o.blockHash, 'blockHash'),
        headerView: nat(o.headerView, 'headerView'), certSig: bytes(o.certSig, 'certSig', 8192), proposalDigest: hash32(o.proposalDigest, 'proposalDigest'),
      }
    case 'checkpoint':
      keys(o, ['type', 'height', 'blockHash'], type)
      return { type, height: nat(o.height, 'height'), blockHash: hash32(o.blockHash, 'blockHash') }
    case 'fetch':
      keys(o, ['type', 'from', 'count'], type)
      return { type, from: nat(o.from, 'from'), count: nat(o.count, 'count') }
    case 'blocks':
      keys(o, ['type', 'blocks', 'agreedCount'], type)
      return { type, blocks: arr(o.blocks, 'blocks', 1024).map((b) => bytes(b, 'blocks[]', frameBytesMax)), agreedCount: nat(o.agreedCount, 'agreedCount') }
    case 'viewChange': {
      if (depth > 1) throw new MalformedMessage('viewChange nested too deep')
      keys(o, ['type', 'newView', 'committed', 'prepared', 'prePrepared'], type)
      const c = obj(o.committed, 'committed')
      keys(c, ['height', 'blockHash', 'headerView', 'certificate'], 'committed')
      const committed = { height: c.height === -1 ? -1 : nat(c.height, 'height'), blockHash: hash32(c.blockHash, 'blockHash'), headerView: nat(c.headerView, 'headerView'), certificate: certFromValue(c.certificate) }
      const prepared = o.prepared === null ? null : signedFromValue(o.prepared!, depth + 1)
      const prePrepared = arr(o.prePrepared, 'prePrepared', prePreparedMax).map((x) => {
        const p = obj(x, 'prePrepared[]')
        keys(p, ['view', 'blockHash', 'proposalDigest'], 'prePrepared[]')
        return { view: nat(p.view, 'view'), blockHash: hash32(p.blockHash, 'blockHash'), proposalDigest: hash32(p.proposalDigest, 'proposalDigest') }
      })
      return { type, newView: nat(o.newView, 'newView'), committed, prepared, prePrepared }
    }
    case 'newView': {
      if (depth > 0) throw new MalformedMessage('newView nested')
      keys(o, ['type', 'view', 'viewChanges', 'prePrepare'], type)
      return {
        type, view: nat(o.view, 'view'),
        viewChanges: arr(o.viewChanges, 'viewChanges', proofItemsMax).map((x) => signedFromValue(x, depth + 1)),
        prePrepare: signedFromValue(o.prePrepare!, depth + 1),
      }
    }
    default:
      throw new MalformedMessage(`unknown message type ${JSON.stringify(type)}`)
  }
}

export function signedFromValue(v: Value, depth = 0): Signed {
  const o = obj(v, 'message')
  keys(o, ['from', 'body', 'sig'], 'message')
  return { from: nat(o.from, 'from'), body: bodyFromValue(o.body!, depth), sig: bytes(o.sig, 'sig', 8192) }
}

/** Throws MalformedMessage or CodecError. */
export function decodeSigned(b: Uint8Array): Signed {
  if (b.length > frameBytesMax) throw new MalformedMessage('message too large')
  const m = signedFromValue(decode(b))
  if (m.body.type !== 'prePrepare') return m
  // The message decoded, so its encoding is canonical and the decoder took exactly the fields
  // encodeBody writes: the body's span is the very bytes encodeBody gives (a test holds it).
  const span = mapValueSpan(b, 0, 'body')!
  return { ...m, bodyBytes: b.subarray(span.start, span.end) }
}
