// A command's parse and signature check, remembered by its exact bytes.
//
// A replica meets each command up to three times: when a client sends it (checked on idle
// time), when the primary executes its batch, and when a backup re-executes the
// pre-prepare. Parsing (CBOR, catalog schemas) and verification (ML-DSA-65) depend only on
// the bytes and the signer's public key, so the second and third time cost a lookup and a
// byte comparison instead of ~0.2 ms. The memo never changes a result: a hit needs the same
// bytes (compared in full) and, for a signature, the same public key; failures are not kept
// (they are recomputed, and the error they throw is the same every time).
//
// Commands are executed in about the order they arrive, so when more are pending than the memo
// holds, dropping the oldest (the next to execute) to make room for the newest would leave
// nothing useful: under saturation every command was parsed and verified twice. So a full
// memo takes nothing new, an executed command is forgotten (`forget`) to make room, and an
// entry older than `staleMs` (a command that never got executed here: a retransmission of a
// committed one, one taken in by state transfer) is dropped when room is needed.
//
// A command is warmed (checked ahead, on idle time) only while it waits to be executed. Under
// load the warm-up queue lags behind execution: the primary executes new commands into its
// next block, a backup re-executes a pre-prepare, before the warm-up reaches them, and warming
// them then verified those a second time (in the e2e bench at 500/s the primary verified
// 4,330 signatures for ≈3,150 commands). So the memo also remembers which commands it saw
// executed lately (`executed`): the warm-up skips those.
import { parseSignedCommand, type SignedDomainCommand, verifyCommandSignature } from './command.ts'
import type { CryptoFacade } from './crypto/types.ts'

type Entry = { readonly key: string; readonly bytes: Uint8Array; readonly signed: SignedDomainCommand; verifiedKey: Uint8Array | null; readonly at: number }

export type CommandMemoLimits = { readonly countMax: number; readonly bytesMax: number; readonly staleMs: number }

/**
 * A few blocks' worth of pending commands: each entry also holds the parsed strings (~2× its
 * bytes) on the heap, which a larger memo would make the garbage collector walk for nothing.
 * A command that found the memo full only costs its parse and verification when executed.
 */
export const defaultCommandMemoLimits: CommandMemoLimits = { countMax: 4_000, bytesMax: 32 * 1024 * 1024, staleMs: 60_000 }

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
  readonly #now: () => number
  #bytes = 0
  /** Lookup keys of the commands executed lately (oldest first), at most countMax. */
  readonly #executed = new Set<string>()
  /** The last parse that found no room: executeCommand's parse and verify of one command share it. */
  #transient: Entry | null = null
  hits = 0
  misses = 0

  constructor(limits: CommandMemoLimits = defaultCommandMemoLimits, now: () => number = () => performance.now()) {
    this.#limits = limits
    this.#now = now
  }

  get size(): number {
    return this.#entries.size
  }

  /** Bytes of the commands held (the budget bytesMax counts). */
  get bytes(): number {
    return this.#bytes
  }

  /** Whether one more command would be kept (after dropping stale entries). */
  hasRoom(): boolean {
    this.#dropStale()
    return this.#entries.size < this.#limits.countMax && this.#bytes < this.#limits.bytesMax
  }

  /** parseSignedCommand(bytes), remembered when there is room; throws exactly as it does. The result is frozen. */
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

  /** Drops the command (it was executed: its place goes to one still pending) and notes it as executed. */
  forget(bytes: Uint8Array): void {
    const key = lookupKey(bytes)
    const e = this.#entries.get(key)
    if (e !== undefined && sameBytes(e.bytes, bytes)) this.#remove(e)
    if (this.#transient !== null && this.#transient.key === key) this.#transient = null
    this.#executed.delete(key) // re-inserted: the newest
    this.#executed.add(key)
    if (this.#executed.size > this.#limits.countMax) this.#executed.delete(this.#executed.values().next().value!)
  }

  /**
   * Whether a command with these bytes' lookup key was executed lately (of the last countMax).
   * Only a hint for the warm-up, which may skip it: a collision of keys merely leaves one
   * command to be verified when it is executed.
   */
  executed(bytes: Uint8Array): boolean {
    return this.#executed.has(lookupKey(bytes))
  }

  #entry(bytes: Uint8Array): Entry {
    const key = lookupKey(bytes)
    const found = this.#entries.get(key) ?? (this.#transient?.key === key ? this.#transient : undefined)
    if (found !== undefined && sameBytes(found.bytes, bytes)) {
      this.hits++
      return found
    }
    this.misses++
    const signed = deepFreeze(parseSignedCommand(bytes))
    const entry: Entry = { key, bytes: bytes.slice(), signed, verifiedKey: null, at: this.#now() }
    const old = this.#entries.get(key) // another command with the same lookup key: replaced
    if (old !== undefined) this.#remove(old)
    if (this.#entries.size < this.#limits.countMax && this.#bytes + bytes.length <= this.#limits.bytesMax) {
      this.#entries.set(key, entry)
      this.#bytes += bytes.length
    } else {
      this.#transient = entry
    }
    return entry
  }

  #remove(e: Entry): void {
    this.#entries.delete(e.key)
    this.#bytes -= e.bytes.length
  }

  #dropStale(): void {
    const before = this.#now() - this.#limits.staleMs
    for (const e of this.#entries.values()) { // insertion order: oldest first
      if (e.at > before) break
      this.#remove(e)
    }
  }
}

/**
 * The length, the first bytes (they hold the command's random id: canonical CBOR puts "id"
 * first) and the last ones. A collision only costs a miss, since a hit compares every byte.
 * (Not the signature's tail alone: SLH-DSA signatures of one key often end alike, the
 * authentication path of the top tree.)
 */
function lookupKey(bytes: Uint8Array): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  return `${bytes.length}:${view.toString('latin1', 0, HEAD)}:${view.toString('latin1', Math.max(0, bytes.length - TAIL))}`
}
