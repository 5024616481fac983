// Where the ledger is: a cluster data folder (genesis.cbor, replica-<i>/ledger/) or a
// ledger folder itself; and the one EventSource the projections read the ledger
// through — over a LedgerReader (following a ledger a running replica owns: no
// lock, no writes) or over a LedgerStore this process owns.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { nativeCrypto } from '../domain/crypto/native.ts'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import { LedgerReader } from '../consensus/store/ledgerReader.ts'
import { LedgerStore } from '../consensus/store/ledgerStore.ts'
import type { EventSource } from '../projections/eventSource.ts'

export type LedgerPaths = { readonly ledgerDir: string; readonly genesisFile: string | null }

/** `--data DIR` → the ledger folder and genesis file (`--genesis` wins; `--replica` picks the replica). */
export function ledgerPaths(data: string, o: { replica?: number; genesis?: string } = {}): LedgerPaths {
  const dir = resolve(data)
  const clusterGenesis = join(dir, 'genesis.cbor')
  if (existsSync(clusterGenesis)) {
    return { ledgerDir: join(dir, `replica-${o.replica ?? 0}`, 'ledger'), genesisFile: o.genesis ?? clusterGenesis }
  }
  const up = resolve(dir, '..', '..', 'genesis.cbor') // <cluster>/replica-<i>/ledger
  return { ledgerDir: dir, genesisFile: o.genesis ?? (existsSync(up) ? up : null) }
}

export function openLedger(dir: string, allowCorrupt = false): Promise<LedgerStore> {
  if (!existsSync(dir)) throw new Error(`no ledger at ${dir}`)
  return LedgerStore.open(dir, { hash: nativeCrypto.sha3_256, allowCorrupt })
}

/** Follows a ledger directory read-only, beside the replica that writes it. */
export function openLedgerReader(dir: string): LedgerReader {
  // fs.watch wakes it on each append; the poll only covers a missed inotify event, but a
  // miss then delays every live delivery behind it, so it is kept short
  return LedgerReader.open(dir, { hash: nativeCrypto.sha3_256, pollMs: 50 })
}

/** What the adapter needs; LedgerStore and LedgerReader both have it. */
export type FollowedLedger = {
  readonly eventCount: number
  readEvents(fromPosition: number, limit: number): EventEnvelope[]
  waitForEvents(position: number, signal?: AbortSignal): Promise<void>
}

export function ledgerEventSource(ledger: FollowedLedger | LedgerReader): EventSource {
  // a reader learns of new records when asked: reading at its end re-reads only the new bytes
  const refresh = (): void => { if (ledger instanceof LedgerReader) ledger.refresh() }
  return {
    read: (from: number, limit: number): EventEnvelope[] => {
      if (from >= ledger.eventCount) refresh()
      return from >= ledger.eventCount ? [] : ledger.readEvents(from, limit)
    },
    wait: (position: number, signal: AbortSignal) => ledger.waitForEvents(position, signal),
    head: () => {
      refresh()
      return ledger.eventCount
    },
  }
}
