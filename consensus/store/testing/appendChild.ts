// The writer the follower test runs beside its reader: opens a store, appends
// `count` blocks of a seeded chain (small bursts, so group commit and segment
// rotation happen while the reader reads), prints each acknowledged height, exits.
//   node appendChild.ts <dir> <seed> <count>
import { createHash } from 'node:crypto'
import { ChainBuilder } from '../../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../../domain/ledger/testing/prng.ts'
import { LedgerStore } from '../ledgerStore.ts'

export const FOLLOW_STORE_OPTIONS = { segmentBytesMax: 64 * 1024, frontierEveryBlocks: 8 } as const
const sha3 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha3-256').update(d).digest())

async function main(dir: string, seed: number, count: number): Promise<void> {
  const store = await LedgerStore.open(dir, { hash: sha3, ...FOLLOW_STORE_OPTIONS })
  const rng = seededRng(seed)
  const builder = new ChainBuilder(sha3, rng, { streams: 10, largePayloadEvery: 200 })
  while (store.height < count - 1) {
    const burst = Math.min(1 + rng.int(4), count - 1 - store.height)
    const appends: Promise<void>[] = []
    for (let i = 0; i < burst; i++) {
      const block = builder.next(rng.int(10) === 0 ? 60 : 1 + rng.int(8))
      appends.push(store.append(block).then(() => { process.stdout.write(`${block.header.height}\n`) }))
    }
    await Promise.all(appends)
    const h = store.readHeader(store.height)
    if (h !== null && h.height % 10 === 0) {
      await store.appendTreeHead({ treeSize: h.treeSize, treeRoot: h.treeRoot, time: h.time, replica: h.height % 3, signature: new Uint8Array(64).fill(h.height % 251) })
    }
    await new Promise((r) => setTimeout(r, rng.int(3)))
  }
  await store.close()
}

if (import.meta.main) await main(process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]))
