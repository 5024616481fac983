// The read-only follower against real segment files: a writer process appending
// while the reader follows, torn tails written by hand, and damage in the middle.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { encodeBlock } from '../../domain/ledger/block.ts'
import type { Block } from '../../domain/ledger/envelope.ts'
import { ChainBuilder } from '../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../domain/ledger/testing/prng.ts'
import { LedgerReader } from './ledgerReader.ts'
import { LedgerStore } from './ledgerStore.ts'
import { frameRecord, RecordType } from './record.ts'
import { FOLLOW_STORE_OPTIONS } from './testing/appendChild.ts'

const sha3 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha3-256').update(d).digest())
const CHILD = new URL('./testing/appendChild.ts', import.meta.url).pathname
const tmp = (): string => mkdtempSync(join(tmpdir(), 'zixt-follow-'))
const segments = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort()
const BLOCKS = 300

function chain(n: number, seed: number, size = 5): Block[] {
  const builder = new ChainBuilder(sha3, seededRng(seed), { streams: 4 })
  return Array.from({ length: n }, () => builder.next(size))
}

async function filled(dir: string, blocks: readonly Block[], segmentBytesMax = 1 << 20): Promise<void> {
  const store = await LedgerStore.open(dir, { hash: sha3, segmentBytesMax })
  for (const b of blocks) await store.append(b)
  await store.close()
}

t.test('a reader following a writer process sees every block in order, whole, byte-identical', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const reader = LedgerReader.open(dir, { hash: sha3, pollMs: 50 }) // opened first: the writer must still get the lock
  t.teardown(() => reader.close())
  const child = spawn(process.execPath, [CHILD, dir, '7', String(BLOCKS)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((res) => child.on('exit', res))
  let acked = -1
  child.stdout.on('data', (d: Buffer) => { acked = Math.max(acked, ...d.toString().trim().split('\n').map(Number)) })
  const seen: Uint8Array[] = []
  const deadline = AbortSignal.timeout(60_000)
  let pendingSeen = 0
  while (seen.length < BLOCKS && !deadline.aborted) {
    await reader.waitForEvents(reader.eventCount, AbortSignal.any([deadline, AbortSignal.timeout(200)]))
    if (reader.pendingTail !== null) pendingSeen++
    while (seen.length <= reader.height) seen.push(reader.readBlockBytes(seen.length))
  }
  t.equal(await exited, 0, 'the writer ran to the end, so the reader never held its lock')
  t.equal(acked, BLOCKS - 1)
  t.equal(seen.length, BLOCKS, 'the reader reached the last block')
  t.ok(segments(dir).length > 2, `the writer rotated segments (${segments(dir).length})`)
  const store = await LedgerStore.open(dir, { hash: sha3 })
  t.teardown(() => store.close())
  let same = 0
  for (let h = 0; h < BLOCKS; h++) if (Buffer.from(seen[h]!).equals(store.readBlockBytes(h))) same++
  t.equal(same, BLOCKS, 'every block the reader returned is byte-identical to the writer\'s')
  t.same(reader.readEvents(0, 10_000), store.readEvents(0, 10_000), 'events decode the same')
  t.equal(reader.eventCount, store.eventCount)
  t.same(reader.latestTreeHeads(), store.latestTreeHeads(), 'tree heads are followed too')
  t.ok(reader.latestTreeHeads().length === 3)
  t.comment(`refreshes that met a write in progress: ${pendingSeen}`)
})

t.test('a torn tail is not returned, not truncated, and is read once it completes', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const blocks = chain(11, 3)
  await filled(dir, blocks.slice(0, 10))
  const reader = LedgerReader.open(dir, { hash: sha3, pollMs: 5_000 }) // only fs.watch can wake it in time
  t.teardown(() => reader.close())
  t.equal(reader.height, 9)
  const file = join(dir, segments(dir).at(-1)!)
  const goodSize = statSync(file).size
  const record = frameRecord(RecordType.block, encodeBlock(blocks[10]!))
  const half = Math.floor(record.length / 2)
  appendFileSync(file, record.subarray(0, half))
  t.equal(reader.refresh(), false, 'nothing new is served')
  t.equal(reader.height, 9)
  t.throws(() => reader.readBlock(10), { code: 'ZIXT_ERR_NOT_FOUND' })
  t.match(reader.pendingTail, { offset: goodSize, reason: /incomplete record/ })
  t.equal(statSync(file).size, goodSize + half, 'the reader did not truncate the file')
  const woken = reader.waitForEvents(blocks[9]!.header.treeSize, AbortSignal.timeout(3_000))
  appendFileSync(file, record.subarray(half))
  await woken
  t.equal(reader.height, 10, 'the completed record is read (woken by fs.watch)')
  t.same(reader.readBlock(10), blocks[10])
  t.equal(reader.pendingTail, null)
})

function flipByte(file: string, offset: number): void {
  const bytes = readFileSync(file)
  bytes[offset]! ^= 0x01
  writeFileSync(file, bytes)
}

t.test('a flipped byte in the middle is reported with file, offset and height', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const blocks = chain(40, 5)
  await filled(dir, blocks, 120_000)
  const sealed = segments(dir)[0]!
  const probe = LedgerReader.open(dir, { hash: sha3 })
  t.equal(probe.height, 39)
  const loc = (probe as unknown as { scanner: { index: { block(h: number): { segment: number; offset: number } } } }).scanner.index
  const second = loc.block(2)
  const last = loc.block(38) // in the last segment, with block 39 after it
  probe.close()
  t.ok(segments(dir).length > 1 && second.segment === 1 && last.segment === segments(dir).length)
  flipByte(join(dir, sealed), second.offset + 30)
  t.throws(() => LedgerReader.open(dir, { hash: sha3 }), {
    code: 'ZIXT_ERR_CORRUPT',
    message: new RegExp(`^${sealed} offset ${second.offset} \\(block height 2\\): checksum mismatch in a sealed segment`),
    details: { file: sealed, offset: second.offset, height: 2 },
  })
  flipByte(join(dir, sealed), second.offset + 30) // repair, then damage the last segment's middle
  const lastFile = segments(dir).at(-1)!
  const following = LedgerReader.open(dir, { hash: sha3 })
  t.teardown(() => following.close())
  flipByte(join(dir, lastFile), last.offset + 30)
  t.throws(() => following.readBlock(38), { code: 'ZIXT_ERR_CORRUPT', details: { file: lastFile, offset: last.offset, height: 38 } }, 'damage after reading is caught on read')
  t.throws(() => LedgerReader.open(dir, { hash: sha3 }), {
    code: 'ZIXT_ERR_CORRUPT',
    message: /checksum mismatch; an intact record follows/,
    details: { file: lastFile, offset: last.offset, height: 38 },
  }, 'a bad record followed by an intact one is damage, not a tail')
})
