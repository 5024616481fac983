// The read models name the ledger they were built from: each projection's checkpoint keeps
// the hash of the last event it applied, and a runner, before its first batch (and again
// after any error), checks that the ledger it reads holds that very event at that position.
// Pointed at another ledger (a new --data folder, another cluster's copy) or at one that lost
// its tail, it stops with an error naming the projection and position instead of applying
// that ledger's later events on top of the other's (or idling, lag 0, while it is shorter).
import { nativeCrypto } from '../domain/crypto/native.ts'
import { ErrorCode, ZixtError } from '../domain/errors.ts'
import { equalBytes } from '../domain/ledger/codec.ts'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import { eventHash } from '../domain/ledger/event.ts'
import type { EventSource } from './eventSource.ts'

/** A projection's checkpoint: the last position applied and that event's hash (null: not kept, an older row). */
export type Checkpoint = { readonly position: number; readonly eventHash: Uint8Array | null }

export function checkpointEventHash(e: EventEnvelope): Uint8Array {
  return eventHash(e, nativeCrypto.sha3_256)
}

/** Throws unless the source holds, at each checkpoint's position, the event the checkpoint names. */
export async function checkLedgerAnchor(source: EventSource, checkpoints: ReadonlyMap<string, Checkpoint>): Promise<void> {
  const applied = [...checkpoints].filter(([, cp]) => cp.position >= 0)
  if (applied.length === 0) return
  const head = await source.head()
  for (const [name, cp] of applied) {
    const rebuild = 'these read models were built from another ledger, or this ledger lost events: rebuild them (npx zixt projections rebuild)'
    if (head <= cp.position) {
      throw new ZixtError(ErrorCode.corrupt, `projection ${name} applied events up to position ${cp.position} but the ledger holds ${head}: ${rebuild}`, { projection: name, position: cp.position, head })
    }
    if (cp.eventHash === null) continue
    const [e] = await source.read(cp.position, 1)
    if (e === undefined || e.position !== cp.position || !equalBytes(checkpointEventHash(e), cp.eventHash)) {
      throw new ZixtError(ErrorCode.corrupt, `projection ${name}: the ledger's event at position ${cp.position} is not the one it applied there: ${rebuild}`, { projection: name, position: cp.position })
    }
  }
}
