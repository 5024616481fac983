// A command's parse and signature check, remembered by its exact bytes.
//
// A replica meets each command up to three times: when a client sends it (checked on idle
// time), when the primary executes its batch, and when a backup re-executes the
// pre-prepare. Parsing (CBOR, catalog schemas) and verification (ML-DSA-65) depend only on
// the bytes and the signer's public key, so the second and third time cost a lookup and a
// byte comparison instead of ~0.2 ms. The memo never changes a result: a hit needs the same
// bytes (compared in full) and, for a signature, the same public key; failures are not kept
// (they are recomputed, and the error they throw is the same every time).
import { parseSignedCommand, type SignedDomainCommand, verifyCommandSignature } from './command.ts'
import type { CryptoFacade } from './crypto/types.ts'

type Entry = { readonly bytes: Uint8Array; readonly signed: SignedDomainCommand; verifiedKey: Uint8Array | null }

export type CommandMemoLimits = { readonly countMax: number; readonly bytesMax: number }

/**
 * Commands are remembered in arrival order and mostly executed in that order, so a few
 * blocks' worth is enough; each entry also holds the parsed strings (~2× its bytes) on the
 * heap, which a larger memo would make the garbage collector walk for nothing. A command
 * evicted before its block only costs its parse and verification again.
 */
export const defaultCommandMemoLimits: CommandMemoLimits = { countMax: 4_000, bytesMax: 32 * 1024 * 1024 }

const HEAD = 64
const TAIL = 16

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Plain objects and arrays made read-only: a remembered command is shared by every execution. */
function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || Object.isFrozen(v)) return v
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k])
  return Object.freeze(v)
}

export class CommandMemo {
  readonly #entries = new Map<string, Entry>()
  readonly #limits: CommandMemoLimits
  #bytes = 0
  hits = 0
  misses = 0

  constructor(limits: CommandMemoLimits = defaultCommandMemoLimits) {
    this.#limits = limits
  }

  get size(): number {
    return this.#entries.size
  }

  /** parseSignedCommand(bytes), remembered; throws exactly as it does. The result is frozen. */
  parse(bytes: Uint8Array): SignedDomainCommand {
    return this.#entry(bytes).signed
  }

  /** verifyCommandSignature(parse(bytes), publicKey), remembered when it holds. */
  verify(bytes: Uint8Array, publicKey: Uint8Array, crypto: CryptoFacade): boolean {
    const e = this.#entry(bytes)
    if (e.verifiedKey !== null && sameBytes(e.verifiedKey, publicKey)) return true
    const ok = verifyCommandSignature(e.signed, publicKey, crypto)
    if (ok) e.verifiedKey = publicKey.slice()
    return ok
  }

  #entry(bytes: Uint8Array): Entry {
    // The key is the length, the first bytes (they hold the command's random id: canonical
    // CBOR puts "id" first) and the last ones. A collision only costs a miss, since a hit
    // compares every byte. (Not the signature's tail alone: SLH-DSA signatures of one key
    // often end alike, the authentication path of the top tree.)
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    const key = `${bytes.length}:${view.toString('latin1', 0, HEAD)}:${view.toString('latin1', Math.max(0, bytes.length - TAIL))}`
    const found = this.#entries.get(key)
    if (found !== undefined && sameBytes(found.bytes, bytes)) {
      this.hits++
      return found
    }
    this.misses++
    const signed = deepFreeze(parseSignedCommand(bytes))
    const entry: Entry = { bytes: bytes.slice(), signed, verifiedKey: null }
    if (found !== undefined) this.#bytes -= found.bytes.length
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    this.#bytes += bytes.length
    while (this.#entries.size > this.#limits.countMax || this.#bytes > this.#limits.bytesMax) {
      const [oldKey, old] = this.#entries.entries().next().value!
      this.#entries.delete(oldKey)
      this.#bytes -= old.bytes.length
    }
    return entry
  }
}
