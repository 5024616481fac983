// Production protocol keys: ML-DSA-65 operational keys, first from genesis, then from each
// committed ReplicaKeyRotated event (ReplicaKeyBook). Protocol messages are signed under
// the context 'zixt/pbft/v1'; commit certificates sign the ledger's
// commitMessage(view, height, blockHash) (domain-separated by its 'zixt/commit/v1' prefix)
// without a context, so an auditor needs nothing but the block and genesis (and the
// ReplicaKeyRotated events before the block) to check them.
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { commitMessage } from '../domain/ledger/block.ts'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import type { Genesis } from '../domain/genesis.ts'
import { fingerprint } from '../domain/identity.ts'
import { fromBase64url, utf8Encode } from '../domain/encoding.ts'
import { equalBytes } from '../domain/ledger/codec.ts'
import type { App, ProtocolKeys } from './app.ts'
import { PBFT_SIGNATURE_CONTEXT } from './messages.ts'

export function operationalKeyId(operationalPublicKey: Uint8Array, crypto: CryptoFacade): string {
  return fingerprint(operationalPublicKey, crypto)
}

/** An operational key and the first height whose block it signs. */
export type KeyEntry = { readonly publicKey: Uint8Array; readonly keyId: string; readonly from: number; readonly time: number }

/** ReplicaKeyRotated events of a block: replica → new operational public key. */
export function rotatedKeys(events: readonly EventEnvelope[]): { replica: number; publicKey: Uint8Array }[] {
  const out: { replica: number; publicKey: Uint8Array }[] = []
  for (const e of events) {
    if (e.type !== 'ReplicaKeyRotated') continue
    const p = e.payload as { replica: number; operationalPublicKey: string }
    out.push({ replica: p.replica, publicKey: fromBase64url(p.operationalPublicKey) })
  }
  return out
}

/** How many blocks after its replacement a replica's previous key still verifies protocol messages (messages in flight). */
export const PREVIOUS_KEY_GRACE_BLOCKS = 64

/**
 * The operational keys as a function of the ledger: genesis, then every ReplicaKeyRotated
 * (the key signs the blocks after the one that installs it). Blocks are noted when executed
 * (a pre-prepare, a fetched block: the certificate of the next fetched block is checked
 * against the keys this one installs) and again when committed, which is final: an
 * execution of an already committed height changes nothing. A tentative key is still a key
 * certified by the replica's identity key (execute rejects anything else).
 */
export class ReplicaKeyBook {
  readonly #history: KeyEntry[][]
  readonly #crypto: CryptoFacade
  #committed = -1

  constructor(genesis: Genesis, crypto: CryptoFacade) {
    this.#crypto = crypto
    this.#history = genesis.replicas.map((r) => [{ publicKey: r.operationalPublicKey, keyId: operationalKeyId(r.operationalPublicKey, crypto), from: 0, time: genesis.createdAt }])
  }

  get n(): number { return this.#history.length }
  get committedHeight(): number { return this.#committed }

  #note(height: number, time: number, events: readonly EventEnvelope[]): void {
    if (height <= this.#committed) return
    for (const h of this.#history) while (h.length > 1 && h[h.length - 1]!.from >= height + 1) h.pop()
    for (const r of rotatedKeys(events)) {
      const h = this.#history[r.replica]
      if (h === undefined) continue
      h.push({ publicKey: r.publicKey, keyId: operationalKeyId(r.publicKey, this.#crypto), from: height + 1, time })
    }
  }

  noteExecuted(height: number, time: number, events: readonly EventEnvelope[]): void { this.#note(height, time, events) }

  noteCommitted(height: number, time: number, events: readonly EventEnvelope[]): void {
    this.#note(height, time, events)
    if (height > this.#committed) this.#committed = height
  }

  /** The key that signs block `height` of `replica`. */
  at(replica: number, height: number): KeyEntry {
    const h = this.#history[replica]!
    for (let i = h.length - 1; i > 0; i--) if (h[i]!.from <= height) return h[i]!
    return h[0]!
  }

  /** The replica's key after the committed ledger (tentative ones excluded). */
  current(replica: number): KeyEntry { return this.at(replica, this.#committed + 1) }

  /** Keys that verify the replica's protocol messages (and channel hellos): the newest known, the current one, the one it replaced within the grace. */
  accepted(replica: number): KeyEntry[] {
    const h = this.#history[replica]
    if (h === undefined) return []
    const cur = this.current(replica)
    const out = [h[h.length - 1]!]
    if (cur !== out[0]) out.push(cur)
    const i = h.indexOf(cur)
    if (i > 0 && this.#committed + 1 - cur.from <= PREVIOUS_KEY_GRACE_BLOCKS) out.push(h[i - 1]!)
    return out
  }
}

/** This replica's operational secret keys: the one it signs with now, and any other it holds (by public key). */
export class OwnOperationalKeys {
  readonly #crypto: CryptoFacade
  readonly #byKeyId = new Map<string, Uint8Array>()
  #current: Uint8Array
  #currentKeyId: string

  constructor(secretKey: Uint8Array, crypto: CryptoFacade) {
    this.#crypto = crypto
    this.#current = secretKey
    this.#currentKeyId = this.add(secretKey)
  }

  /** Remembers a secret key; returns its key id. */
  add(secretKey: Uint8Array): string {
    const id = operationalKeyId(this.#crypto.mlDsa65.keygen(secretKey).publicKey, this.#crypto)
    this.#byKeyId.set(id, secretKey)
    return id
  }

  /** Switches signing to the held key with this public key; false when not held. */
  switchTo(publicKey: Uint8Array): boolean {
    const id = operationalKeyId(publicKey, this.#crypto)
    const sk = this.#byKeyId.get(id)
    if (sk === undefined) return false
    this.#current = sk
    this.#currentKeyId = id
    return true
  }

  get secretKey(): Uint8Array { return this.#current }
  get keyId(): string { return this.#currentKeyId }
  byKeyId(id: string): Uint8Array | undefined { return this.#byKeyId.get(id) }
}

/** ProtocolKeys that follow the ledger's key rotations (ReplicaKeyBook) and this replica's own keys. */
export function ledgerProtocolKeys(book: ReplicaKeyBook, index: number, own: OwnOperationalKeys, crypto: CryptoFacade): ProtocolKeys {
  const dsa = crypto.mlDsa65
  const ctx = utf8Encode(PBFT_SIGNATURE_CONTEXT)
  const n = book.n
  return {
    sign: (m) => dsa.sign(own.secretKey, m, ctx),
    verify: (r, m, s) => r < n && s.length === dsa.signatureBytes && book.accepted(r).some((k) => dsa.verify(k.publicKey, m, s, ctx)),
    signCommit: (view, height, hash) => {
      const k = book.at(index, height)
      const sk = own.byKeyId(k.keyId) ?? own.secretKey
      return { replica: index, keyId: k.keyId, signature: dsa.sign(sk, commitMessage(view, height, hash)) }
    },
    verifyCommit: (view, height, hash, s) => {
      if (s.replica >= n || s.signature.length !== dsa.signatureBytes) return false
      const k = book.at(s.replica, height)
      return s.keyId === k.keyId && dsa.verify(k.publicKey, commitMessage(view, height, hash), s.signature)
    },
    keyIdOf: (r, height) => (height === undefined ? book.current(r) : book.at(r, height)).keyId,
  }
}

/** Genesis keys only (no rotation): kept for tools that sign with a fixed key. */
export function genesisProtocolKeys(genesis: Genesis, index: number, operationalSecretKey: Uint8Array, crypto: CryptoFacade): ProtocolKeys {
  return ledgerProtocolKeys(new ReplicaKeyBook(genesis, crypto), index, new OwnOperationalKeys(operationalSecretKey, crypto), crypto)
}

/** Wraps an app so every executed block is noted in the key book (its rotations apply to the next height). */
export function keyTrackingApp<S>(app: App<S>, book: ReplicaKeyBook): App<S> {
  return {
    ...app,
    execute(state, batch, meta) {
      const e = app.execute(state, batch, meta)
      book.noteExecuted(meta.height, meta.time, e.block.events)
      return e
    },
  }
}

export function samePublicKey(a: Uint8Array, b: Uint8Array): boolean { return equalBytes(a, b) }
