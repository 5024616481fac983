// `npm run bench -- store [--time-ms 5000] [--dir PATH]`
// Durable append throughput of the ledger store (every block fdatasync'ed before
// append resolves) at 1, 100 and 1,000 events per block, one append at a time and
// with 16 in flight (group commit), then the time to reopen (scan + index rebuild).
// Blocks are realistic: signed-command-sized commands, chat-sized ciphertexts with an
// occasional 64 KiB one, a 3-signature certificate; hashing is native SHA3-256.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LedgerStore } from '../../consensus/store/ledgerStore.ts'
import { nativeCrypto } from '../../domain/crypto/native.ts'
import { encodeBlock } from '../../domain/ledger/block.ts'
import type { Block } from '../../domain/ledger/envelope.ts'
import { ChainBuilder } from '../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../domain/ledger/testing/prng.ts'
import { parseOptions, report, type Row } from './common.ts'

const hash = (d: Uint8Array): Uint8Array => nativeCrypto.sha3_256(d)
const MB = 1024 * 1024

type Cell = { readonly eventsPerBlock: number; readonly inFlight: number; readonly blocksMax: number }

const CELLS: readonly Cell[] = [
  { eventsPerBlock: 1, inFlight: 1, blocksMax: 5000 },
  { eventsPerBlock: 1, inFlight: 16, blocksMax: 20000 },
  { eventsPerBlock: 100, inFlight: 1, blocksMax: 1500 },
  { eventsPerBlock: 100, inFlight: 16, blocksMax: 1500 },
  { eventsPerBlock: 1000, inFlight: 1, blocksMax: 150 },
  { eventsPerBlock: 1000, inFlight: 16, blocksMax: 150 },
]

/** Builds blocks ahead of the timed loop, within the cell's count and about half its time. */
function prepare(cell: Cell, timeMs: number): Block[] {
  const builder = new ChainBuilder(hash, seededRng(cell.eventsPerBlock * 31 + cell.inFlight))
  const blocks: Block[] = []
  const start = performance.now()
  while (blocks.length < cell.blocksMax && (blocks.length < 16 || performance.now() - start < timeMs / 2)) {
    blocks.push(builder.next(cell.eventsPerBlock))
  }
  return blocks
}

async function runCell(cell: Cell, timeMs: number, root: string): Promise<Row> {
  const blocks = prepare(cell, timeMs)
  const dir = mkdtempSync(join(root, 'zixt-bench-store-'))
  try {
    const store = await LedgerStore.open(dir, { hash })
    let next = 0
    let bytes = 0
    const start = performance.now()
    const worker = async (): Promise<void> => {
      while (next < blocks.length && performance.now() - start < timeMs) {
        const b = blocks[next++]!
        await store.append(b)
      }
    }
    await Promise.all(Array.from({ length: cell.inFlight }, worker))
    const seconds = (performance.now() - start) / 1000
    const appended = store.height + 1
    for (let h = 0; h < appended; h++) bytes += encodeBlock(blocks[h]!).length
    const syncs = store.syncs
    await store.close()
    const openStart = performance.now()
    const reopened = await LedgerStore.open(dir, { hash })
    const openMs = performance.now() - openStart
    await reopened.close()
    return {
      'events/block': cell.eventsPerBlock,
      'in flight': cell.inFlight,
      blocks: appended,
      'blocks/s': appended / seconds,
      'events/s': (appended * cell.eventsPerBlock) / seconds,
      'MB/s': bytes / MB / seconds,
      'KB/block': bytes / 1024 / appended,
      'blocks/fsync': appended / syncs,
      'reopen ms': openMs,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function main(args: string[]): Promise<number> {
  const options = parseOptions(args)
  for (const key of options.keys()) {
    if (key !== 'time-ms' && key !== 'dir') {
      process.stderr.write(`unknown option --${key}\nusage: npm run bench -- store [--time-ms 5000] [--dir PATH]\n`)
      return 2
    }
  }
  const timeMs = Math.min(Number(options.get('time-ms') ?? 5000), 60_000)
  if (!(timeMs > 0)) {
    process.stderr.write('--time-ms must be a positive number\n')
    return 2
  }
  const root = options.get('dir') ?? tmpdir()
  const rows: Row[] = []
  for (const cell of CELLS) {
    process.stderr.write(`store: ${cell.eventsPerBlock} events/block, ${cell.inFlight} in flight…\n`)
    rows.push(await runCell(cell, timeMs, root))
  }
  report('store', rows, {
    options: { timeMs, dir: root, hash: 'SHA3-256 (native)' },
    notes: [
      'each append resolves after fdatasync; "in flight" appends share fsyncs (group commit)',
      'MB/s counts canonical block bytes; reopen = scan every record (CRC) and rebuild the indexes',
    ],
  })
  return 0
}
