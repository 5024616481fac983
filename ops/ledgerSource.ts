// Where the ledger is: a cluster data folder (genesis.cbor, replica-<i>/ledger/) or a
// ledger folder itself; and an EventSource over a LedgerStore for the projections.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { nativeCrypto } from '../domain/crypto/native.ts'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
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

export function storeEventSource(store: LedgerStore): EventSource {
  return {
    read: (from: number, limit: number): EventEnvelope[] => (from >= store.eventCount ? [] : store.readEvents(from, limit)),
    wait: (position: number, signal: AbortSignal) => store.waitForEvents(position, signal),
    head: () => store.eventCount,
  }
}
