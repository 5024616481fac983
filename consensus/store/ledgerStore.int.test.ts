import { createHash } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { blockHash, encodeBlock } from '../../domain/ledger/block.ts'
import type { Block, EventEnvelope, SignedTreeHead } from '../../domain/ledger/envelope.ts'
import { encodeEvent } from '../../domain/ledger/event.ts'
import type { HashFn } from '../../domain/ledger/merkle.ts'
import { ChainBuilder } from '../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../domain/ledger/testing/prng.ts'
import { LedgerStore } from './ledgerStore.ts'
import { frameRecord, RecordType } from './record.ts'

const sha3: HashFn = (d) => new Uint8Array(createHash('sha3-256').update(d).digest())
const tmp = (): string => mkdtempSync(join(tmpdir(), 'zixt-store-'))
const segments = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort()

function makeChain(n: number, seed = 1, sizes = [0, 1, 3, 8, 20]): { blocks: Block[]; builder: ChainBuilder } {
  const builder = new ChainBuilder(sha3, seededRng(seed), { streams: 6, largePayloadEvery: 40 })
  const rng = seededRng(seed + 1)
  return { blocks: Array.from({ length: n }, () => builder.next(rng.pick(sizes))), builder }
}

async function filled(dir: string, blocks: readonly Block[], options = {}): Promise<LedgerStore> {
  const store = await LedgerStore.open(dir, { hash: sha3, ...options })
  for (const b of blocks) await store.append(b)
  return store
}

t.test('an empty store', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = await LedgerStore.open(dir, { hash: sha3 })
  t.equal(store.height, -1)
  t.equal(store.eventCount, 0)
  t.same(store.readEvents(0, 10), [])
  t.same(store.readStream('thread:x'), [])
  t.throws(() => store.readBlock(0), { code: 'ZIXT_ERR_NOT_FOUND', message: /block 0 is past the last block -1/ })
  await store.close()
})

t.test('blocks, events and streams read back after reopening, exactly as appended', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks, builder } = makeChain(60)
  const store = await filled(dir, blocks, { frontierEveryBlocks: 16 })
  await store.close()
  const again = await LedgerStore.open(dir, { hash: sha3, frontierEveryBlocks: 16 })
  t.teardown(() => again.close())
  const events = blocks.flatMap((b) => b.events)
  t.equal(again.height, 59)
  t.equal(again.eventCount, events.length)
  t.equal(again.recovery, null)
  t.same(again.tip.blockHash, builder.tip.blockHash, 'the tip hash survives')
  t.same(again.tip.frontier.root(sha3), builder.tip.frontier.root(sha3), 'the event tree survives')
  for (const b of blocks) {
    if (!Buffer.from(again.readBlockBytes(b.header.height)).equals(encodeBlock(b))) t.fail(`block ${b.header.height} bytes`)
  }
  t.same(again.readBlock(33), blocks[33])
  t.same(again.readHeader(12), blocks[12]!.header)
  t.same(again.readEvents(0, 100_000), events, 'all events in order (limit clamps)')
  t.same(again.readEvents(7, 5), events.slice(7, 12), 'a range inside and across blocks')
  t.same(again.readEvents(events.length, 5), [], 'nothing past the end')
  for (const stream of new Set(events.map((e) => e.stream))) {
    const expected = events.filter((e) => e.stream === stream)
    t.same(again.readStream(stream), expected, `stream ${stream}`)
    t.same(again.streamHead(stream), builder.heads.get(stream), `head of ${stream}`)
  }
  t.same(again.readStream('thread:t1', 2, 3), events.filter((e) => e.stream === 'thread:t1').slice(2, 5))
})

t.test('appending continues the chain after reopening', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(30)
  await (await filled(dir, blocks.slice(0, 20))).close()
  const store = await filled(dir, blocks.slice(20))
  t.equal(store.height, 29)
  t.same(store.readBlock(29), blocks[29])
  await store.close()
})

t.test('concurrent appends share fsyncs (group commit) and all become durable', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(200, 3, [1, 2])
  const store = await LedgerStore.open(dir, { hash: sha3 })
  await Promise.all(blocks.map((b) => store.append(b)))
  t.equal(store.height, 199)
  t.ok(store.syncs < 100, `${store.syncs} fsyncs for 200 blocks`)
  await store.close()
  const again = await LedgerStore.open(dir, { hash: sha3 })
  t.equal(again.height, 199)
  await again.close()
})

t.test('a block that does not extend the chain is a bug and crashes', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(3)
  const store = await filled(dir, blocks.slice(0, 1))
  await t.rejects(store.append(blocks[2]!), { name: 'AssertionError', message: /block 2 does not follow 0/ })
  const forged = { ...blocks[1]!, header: { ...blocks[1]!.header, prevBlockHash: new Uint8Array(32) } }
  await t.rejects(store.append(forged), { name: 'AssertionError', message: /prevBlockHash does not link/ })
  const reordered = { ...blocks[1]!, events: [...blocks[1]!.events].reverse() }
  if (reordered.events.length > 1) await t.rejects(store.append(reordered), { name: 'AssertionError' })
  await store.append(blocks[1]!)
  t.equal(store.height, 1, 'the store is still usable')
  await store.close()
})

t.test('segments rotate at segmentBytesMax and every segment reads back', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(80)
  await (await filled(dir, blocks, { segmentBytesMax: 100_000 })).close()
  const files = segments(dir)
  t.ok(files.length > 3, `${files.length} segments`)
  t.equal(files[0], 'ledger-000001.seg')
  const store = await LedgerStore.open(dir, { hash: sha3, segmentBytesMax: 100_000 })
  t.same(store.readEvents(0, 10_000), blocks.flatMap((b) => b.events))
  await store.close()
})

const sth = (treeSize: number, treeRoot: Uint8Array, replica: number): SignedTreeHead =>
  ({ treeSize, treeRoot, time: 1_790_000_000_000 + treeSize, replica, signature: new Uint8Array(49_856).fill(replica) })

t.test('signed tree heads are stored, checked and found again', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(10, 5, [4])
  const store = await filled(dir, blocks)
  const at = (h: number): SignedTreeHead[] => [0, 1, 2].map((r) => sth(blocks[h]!.header.treeSize, blocks[h]!.header.treeRoot, r))
  for (const s of [...at(3), ...at(6), ...at(9).slice(0, 2)]) await store.appendTreeHead(s)
  await t.rejects(store.appendTreeHead(sth(41, blocks[9]!.header.treeRoot, 0)), { code: 'ZIXT_ERR_INVALID_ARGUMENT', message: /treeSize: 41 exceeds the 40 events/ })
  await t.rejects(store.appendTreeHead(sth(16, blocks[9]!.header.treeRoot, 0)), { code: 'ZIXT_ERR_INVALID_ARGUMENT', message: /treeRoot: not the ledger's root at size 16/ })
  await store.close()
  const again = await LedgerStore.open(dir, { hash: sha3 })
  t.same(again.latestTreeHeads(), [at(9)[0], at(9)[1], at(6)[2]])
  t.same(again.treeHeadsCovering(10), at(3), 'events 0..15 are covered by the heads at size 16')
  t.same(again.treeHeadsCovering(17).map((s) => s.treeSize), [28, 28, 28])
  t.same(again.treeHeadsCovering(29).map((s) => [s.replica, s.treeSize]), [[0, 40], [1, 40]])
  t.same(again.treeHeadsCovering(41), [])
  await again.close()
})

t.test('follow delivers every event in order and waits for new ones', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(20)
  const events = blocks.flatMap((b) => b.events)
  const store = await filled(dir, blocks.slice(0, 5))
  const controller = new AbortController()
  const seen: EventEnvelope[] = []
  const following = (async () => {
    for await (const e of store.follow(2, controller.signal)) {
      seen.push(e)
      if (e.position === events.length - 1) controller.abort()
    }
  })()
  for (const b of blocks.slice(5)) {
    await new Promise((r) => setTimeout(r, 2))
    await store.append(b)
  }
  await following
  t.same(seen, events.slice(2), 'every event from position 2, once, in order')
  const idle = new AbortController()
  const waiting = store.waitForEvents(events.length, idle.signal)
  idle.abort()
  await waiting
  t.pass('an aborted wait returns')
  const tail: EventEnvelope[] = []
  const tailing = (async () => { for await (const e of store.follow(events.length - 1)) tail.push(e) })()
  await new Promise((r) => setTimeout(r, 20))
  await store.close()
  await tailing
  t.same(tail, events.slice(-1), 'closing the store ends a waiting follower')
})

t.test('a torn tail is truncated, reported, and appending continues', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(12)
  await (await filled(dir, blocks.slice(0, 10))).close()
  const file = join(dir, segments(dir).at(-1)!)
  const goodSize = statSync(file).size
  const torn = frameRecord(RecordType.block, encodeBlock(blocks[10]!))
  appendFileSync(file, torn.subarray(0, Math.floor(torn.length / 2)))
  const store = await LedgerStore.open(dir, { hash: sha3 })
  t.equal(store.height, 9)
  t.same(store.recovery, { file: segments(dir).at(-1), offset: goodSize, droppedBytes: Math.floor(torn.length / 2), reason: store.recovery?.reason })
  t.match(store.recovery?.reason, /incomplete record/)
  t.equal(statSync(file).size, goodSize, 'the torn bytes are gone from the file')
  await store.append(blocks[10]!)
  await store.append(blocks[11]!)
  await store.close()
  const again = await LedgerStore.open(dir, { hash: sha3 })
  t.equal(again.recovery, null)
  t.same(again.readBlock(11), blocks[11])
  await again.close()
})

t.test('a complete last record with a bad checksum is a torn tail too', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(5)
  await (await filled(dir, blocks.slice(0, 4))).close()
  const file = join(dir, segments(dir).at(-1)!)
  const record = frameRecord(RecordType.block, encodeBlock(blocks[4]!))
  record[record.length - 1]! ^= 0xff
  appendFileSync(file, record)
  appendFileSync(file, Buffer.alloc(300)) // a crash can also leave zeros past the data
  const store = await LedgerStore.open(dir, { hash: sha3 })
  t.equal(store.height, 3)
  t.match(store.recovery, { reason: /bad magic|checksum/ })
  await store.close()
})

function flipByte(file: string, offset: number): void {
  const bytes = readFileSync(file)
  bytes[offset]! ^= 0x01
  writeFileSync(file, bytes)
}

t.test('a flipped byte in a sealed record fails open, naming file, offset and height', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(30, 9, [5])
  const store = await filled(dir, blocks, { segmentBytesMax: 120_000 })
  const victim = 17
  const loc = (store as unknown as { index: { block(h: number): { segment: number; offset: number; length: number } } }).index.block(victim)
  await store.close()
  const file = `ledger-${String(loc.segment).padStart(6, '0')}.seg`
  flipByte(join(dir, file), loc.offset + 40)
  await t.rejects(LedgerStore.open(dir, { hash: sha3 }), {
    code: 'ZIXT_ERR_CORRUPT',
    message: new RegExp(`^${file} offset ${loc.offset} \\(block height ${victim}\\): checksum mismatch`),
    details: { file, offset: loc.offset, height: victim },
  })
  const readOnly = await LedgerStore.open(dir, { hash: sha3, allowCorrupt: true })
  t.equal(readOnly.height, victim - 1, 'serves only what precedes the damage')
  t.same(readOnly.readBlock(victim - 1), blocks[victim - 1])
  t.throws(() => readOnly.readBlock(victim), { code: 'ZIXT_ERR_CORRUPT', details: { height: victim } })
  t.equal(readOnly.readEvents(0, 10_000).length, blocks[victim - 1]!.header.treeSize, 'no event past the damage')
  await t.rejects(readOnly.append(blocks[victim]!), { code: 'ZIXT_ERR_CORRUPT' })
  await readOnly.close()
})

t.test('damage in the last record of a sealed segment, or in a length field, is corruption too', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(30, 10, [5])
  await (await filled(dir, blocks, { segmentBytesMax: 120_000 })).close()
  const first = join(dir, 'ledger-000001.seg')
  flipByte(first, statSync(first).size - 2) // inside the CRC of segment 1's last record
  await t.rejects(LedgerStore.open(dir, { hash: sha3 }), { code: 'ZIXT_ERR_CORRUPT', message: /ledger-000001\.seg .*in a sealed segment/ })
  const single = tmp()
  t.teardown(() => rmSync(single, { recursive: true, force: true }))
  await (await filled(single, blocks.slice(0, 6))).close()
  t.equal(segments(single).length, 1)
  flipByte(join(single, 'ledger-000001.seg'), 4) // the first record's length: it now runs past the end of the file
  await t.rejects(LedgerStore.open(single, { hash: sha3 }), {
    code: 'ZIXT_ERR_CORRUPT', message: /^ledger-000001\.seg offset 0 \(block height 0\): (incomplete record|checksum mismatch).*; an intact record follows at offset \d+/,
  })
})

t.test('damage after open is caught by the checksum on read', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(5, 4, [3])
  const store = await filled(dir, blocks)
  flipByte(join(dir, 'ledger-000001.seg'), 100)
  t.throws(() => store.readBlockBytes(0), { code: 'ZIXT_ERR_CORRUPT', message: /ledger-000001\.seg offset 0 \(block height 0\): checksum mismatch/ })
  await store.close()
})

t.test('an event damaged after open is not served: events are read with their whole block record and its checksum', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(5, 4, [3])
  const store = await filled(dir, blocks)
  const all = store.readEvents(0, 100)
  const e = all[3]!
  t.equal(e.blockHeight, 1)
  const bytes = Buffer.from(encodeEvent(e))
  const file = join(dir, 'ledger-000001.seg')
  const at = readFileSync(file).indexOf(bytes)
  t.ok(at > 0, 'the event is stored as its canonical bytes')
  // A byte of prevHash: the event still decodes, so only a check of the bytes can tell.
  const damaged = at + bytes.indexOf(Buffer.from(e.prevHash)) + 5
  flipByte(file, damaged)
  t.throws(() => store.readEvents(0, 20), { code: 'ZIXT_ERR_CORRUPT', message: /ledger-000001\.seg offset \d+ \(block height 1\): checksum mismatch/ })
  t.throws(() => store.readEvents(4, 1), { code: 'ZIXT_ERR_CORRUPT', message: /checksum mismatch/ }, 'an undamaged event of the damaged block neither')
  t.same(store.readEvents(0, 3).map((x) => x.position), [0, 1, 2], 'the block before is still served')
  t.throws(() => store.readStream(e.stream), { code: 'ZIXT_ERR_CORRUPT', message: /ledger-000001\.seg offset \d+ \(block height \d\): (checksum mismatch|event \d+ does not link)/ })
  flipByte(file, damaged) // repaired
  t.same(store.readStream(e.stream).map((x) => x.position), all.filter((x) => x.stream === e.stream).map((x) => x.position))
  // The newest event of a stream has no event after it to vouch for it: its block's checksum does.
  const newest = all.at(-1)!
  const newestBytes = Buffer.from(encodeEvent(newest))
  const newestAt = readFileSync(file).indexOf(newestBytes)
  flipByte(file, newestAt + newestBytes.length) // its block record, just past it
  t.throws(() => store.readStream(newest.stream), { code: 'ZIXT_ERR_CORRUPT', message: /checksum mismatch/ })
  t.equal(store.readStream(newest.stream, 0, newest.streamVersion).length, newest.streamVersion, 'the events before it are served: it links to them')
  await store.close()
})

t.test('a second open of the same directory is refused', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = await LedgerStore.open(dir, { hash: sha3 })
  await t.rejects(LedgerStore.open(dir, { hash: sha3 }), { code: 'ZIXT_ERR_UNAVAILABLE', message: new RegExp(`open in process ${process.pid}`) })
  await store.close()
  writeFileSync(join(dir, 'LOCK'), '999999999') // a dead owner
  const again = await LedgerStore.open(dir, { hash: sha3 })
  await again.close()
})

t.test('block hashes chain through the store', async (t) => {
  const dir = tmp()
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { blocks } = makeChain(10)
  const store = await filled(dir, blocks)
  for (let h = 1; h < 10; h++) t.same(store.readBlock(h).header.prevBlockHash, blockHash(store.readBlock(h - 1).header, sha3))
  await store.close()
})
