// The process the crash test kills: opens the store, prints "ready", then
// appends blocks (a few at a time, so group commit is in play) and prints each
// height once its append resolved. Pipes are synchronous on Linux, so a height
// the parent reads was acknowledged before the child could be killed.
//   node crashChild.ts <dir> <seed>
import { createHash } from 'node:crypto'
import { ChainBuilder } from '../../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../../domain/ledger/testing/prng.ts'
import { LedgerStore } from '../ledgerStore.ts'

export const CRASH_STORE_OPTIONS = { segmentBytesMax: 256 * 1024, frontierEveryBlocks: 8 } as const
const sha3 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha3-256').update(d).digest())

async function main(dir: string, seed: number): Promise<void> {
  const store = await LedgerStore.open(dir, { hash: sha3, ...CRASH_STORE_OPTIONS })
  const rng = seededRng(seed)
  const builder = new ChainBuilder(sha3, rng, { streams: 20, largePayloadEvery: 300, baseHeads: { get: (s) => store.streamHead(s) } })
  builder.tip = store.tip
  process.stdout.write(`ready ${store.height}\n`)
  for (;;) {
    const burst = 1 + rng.int(4)
    const appends: Promise<void>[] = []
    for (let i = 0; i < burst; i++) {
      const block = builder.next(rng.int(10) === 0 ? 100 + rng.int(100) : 1 + rng.int(12))
      appends.push(store.append(block).then(() => { process.stdout.write(`${block.header.height}\n`) }))
    }
    await Promise.all(appends)
  }
}

if (import.meta.main) await main(process.argv[2]!, Number(process.argv[3]))
