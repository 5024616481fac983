import { createHash } from 'node:crypto'
import t from 'tap'
import { limits } from '../limits.ts'
import {
  blockHash, buildBlock, commandsRoot, commitMessage, decodeBlock, decodeHeader, encodeBlock, encodeHeader,
  eventsRoot, GENESIS_TIP, verifyBlock, type ChainTip,
} from './block.ts'
import { decode, encode, type Value } from './codec.ts'
import type { Block, EventEnvelope } from './envelope.ts'
import { eventHash, mergeStreamHeads, type StreamHead } from './event.ts'
import { inclusionProof, verifyInclusion, type HashFn } from './merkle.ts'
import { ChainBuilder } from './testing/chain.ts'
import { seededRng } from './testing/prng.ts'

const sha3: HashFn = (d) => new Uint8Array(createHash('sha3-256').update(d).digest())
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function chain(blocks: number, eventsPerBlock = 5): { blocks: Block[]; builder: ChainBuilder } {
  const builder = new ChainBuilder(sha3, seededRng(11), { streams: 4, largePayloadEvery: 0 })
  return { blocks: Array.from({ length: blocks }, () => builder.next(eventsPerBlock)), builder }
}

t.test('blocks round trip through their canonical bytes', async (t) => {
  const { blocks } = chain(6)
  for (const b of blocks) {
    const bytes = encodeBlock(b)
    const back = decodeBlock(bytes)
    t.same(back, b, `block ${b.header.height}`)
    t.same(encodeBlock(back), bytes)
    t.same(blockHash(back.header, sha3), blockHash(b.header, sha3))
    t.same(decodeHeader(encodeHeader(b.header)), b.header)
  }
})

t.test('a chain verifies block by block, with its stream chains', async (t) => {
  const { blocks, builder } = chain(8)
  let tip: ChainTip = GENESIS_TIP
  let heads = new Map<string, StreamHead>()
  for (const b of blocks) {
    const r = verifyBlock(b, tip, sha3, heads)
    if (r.kind !== 'valid') return t.fail(`block ${b.header.height}: ${r.field} ${r.reason}`)
    t.same(blocks[b.header.height + 1]?.header.prevBlockHash ?? r.tip.blockHash, r.tip.blockHash, 'the next block links to this hash')
    tip = r.tip
    heads = mergeStreamHeads(heads, r.heads)
  }
  t.same(tip.blockHash, builder.tip.blockHash)
  t.same(heads, builder.heads, 'verification rebuilds the stream heads')
})

type Tamper = (b: Block) => Block
const withEvent = (b: Block, i: number, change: Partial<EventEnvelope>): Block =>
  ({ ...b, events: b.events.map((e, j) => (j === i ? { ...e, ...change } : e)) })

t.test('verifyBlock names what a tampered block got wrong', async (t) => {
  const { blocks } = chain(3)
  const r1 = verifyBlock(blocks[0]!, GENESIS_TIP, sha3, new Map())
  if (r1.kind !== 'valid') throw new Error('genesis invalid')
  const tip = r1.tip
  const heads = r1.heads
  const b = blocks[1]!
  const cases: [string, Tamper, string][] = [
    ['height', (x) => ({ ...x, header: { ...x.header, height: 2 } }), 'header.height'],
    ['prev hash', (x) => ({ ...x, header: { ...x.header, prevBlockHash: new Uint8Array(32) } }), 'header.prevBlockHash'],
    ['tree size', (x) => ({ ...x, header: { ...x.header, treeSize: x.header.treeSize + 1 } }), 'header.treeSize'],
    ['position', (x) => withEvent(x, 2, { position: 99 }), 'events[2].position'],
    ['event height', (x) => withEvent(x, 1, { blockHeight: 7 }), 'events[1].blockHeight'],
    ['event time', (x) => withEvent(x, 0, { time: 1 }), 'events[0].time'],
    ['stream version', (x) => withEvent(x, 3, { streamVersion: 1000 }), 'events[3].streamVersion'],
    ['stream link', (x) => withEvent(x, 4, { prevHash: new Uint8Array(32).fill(1) }), 'events[4].prevHash'],
    ['payload', (x) => withEvent(x, 0, { payload: { forged: true } }), 'header.eventsRoot'],
    ['command', (x) => ({ ...x, commands: x.commands.map((c, i) => (i === 0 ? c.slice(1) : c)) }), 'header.commandsRoot'],
    ['dropped command', (x) => ({ ...x, commands: x.commands.slice(1) }), 'header.commandsRoot'],
    ['tree root', (x) => ({ ...x, header: { ...x.header, treeRoot: x.header.eventsRoot } }), 'header.treeRoot'],
  ]
  for (const [name, tamper, field] of cases) {
    const r = verifyBlock(tamper(b), tip, sha3, heads)
    t.equal(r.kind === 'invalid' ? r.field : 'valid', field, name)
  }
  t.equal(verifyBlock(b, tip, sha3, heads).kind, 'valid', 'the untampered block is valid')
})

t.test('an event is provably in the tree head of every later block', async (t) => {
  const { blocks } = chain(5, 7)
  const leaves = blocks.flatMap((b) => b.events.map((e) => eventHash(e, sha3)))
  const last = blocks[4]!.header
  for (const position of [0, 6, 7, 20, 34]) {
    const proof = inclusionProof(position, leaves.slice(0, last.treeSize), sha3)
    t.ok(verifyInclusion(position, last.treeSize, leaves[position]!, proof, last.treeRoot, sha3), `event ${position}`)
  }
  t.same(blocks[2]!.header.eventsRoot, eventsRoot(blocks[2]!.events, sha3))
  t.same(blocks[2]!.header.commandsRoot, commandsRoot(blocks[2]!.commands, sha3))
})

t.test('decodeBlock names the bad field', async (t) => {
  const { blocks } = chain(1)
  const base = decode(encodeBlock(blocks[0]!), { itemsMax: limits.blockItemsMax }) as Record<string, Value>
  const header = base.header as Record<string, Value>
  const events = base.events as Record<string, Value>[]
  const cert = base.certificate as Record<string, Value>[]
  const cases: [Record<string, Value>, RegExp][] = [
    [{ ...base, header: { ...header, treeRoot: new Uint8Array(33) } }, /^block\.header\.treeRoot: expected 32 bytes, got 33/],
    [{ ...base, header: { ...header, proposer: 64 } }, /^block\.header\.proposer: 64 exceeds 63/],
    [{ ...base, events: events.map((e, i) => (i === 3 ? { ...e, prevHash: new Uint8Array(2) } : e)) }, /^block\.events\[3\]\.prevHash/],
    [{ ...base, commands: [new Uint8Array(1), 'x'] }, /^block\.commands\[1\]: expected a byte string/],
    [{ ...base, commands: [new Uint8Array(limits.commandBytesMax + 1)] }, new RegExp(`^block\\.commands\\[0\\]: ${limits.commandBytesMax + 1} bytes exceeds`)],
    [{ ...base, certificate: [{ ...cert[0]!, replica: 'zero' }] }, /^block\.certificate\[0\]\.replica/],
    [{ ...base, certificate: [{ ...cert[0]!, signature: new Uint8Array(limits.signatureBytesMax + 1) }] }, /^block\.certificate\[0\]\.signature/],
    [{ ...base, commands: Array.from({ length: limits.commandsPerBlockMax + 1 }, () => new Uint8Array(0)) }, /^block\.commands: 2001 items exceeds 2000/],
    [{ ...base, signature: new Uint8Array(1) }, /^block\.signature: unknown field/],
  ]
  for (const [v, message] of cases) {
    t.throws(() => decodeBlock(encode(v, { itemsMax: limits.blockItemsMax })), { code: 'ZIXT_ERR_SCHEMA', message })
  }
  const { header: _h, ...noHeader } = base
  t.throws(() => decodeBlock(encode(noHeader, { itemsMax: limits.blockItemsMax })), { message: /^block\.header: missing/ })
})

t.test('a block with 10,000 events (the limit) encodes and decodes', async (t) => {
  const builder = new ChainBuilder(sha3, seededRng(5), { largePayloadEvery: 0, eventsPerCommandMax: 10 })
  const big = builder.next(limits.eventsPerBlockMax)
  const bytes = encodeBlock(big)
  t.equal(decodeBlock(bytes).events.length, limits.eventsPerBlockMax)
  const tooMany = { ...big, commands: Array.from({ length: limits.commandsPerBlockMax + 1 }, () => new Uint8Array(1)) }
  t.throws(() => encodeBlock(tooMany), { code: 'ZIXT_ERR_LIMIT_EXCEEDED', message: /^block\.commands: 2001 items/ }, 'encode refuses what decode would')
  t.throws(() => encodeBlock(withEvent(big, 0, { stream: '' })), { code: 'ZIXT_ERR_SCHEMA', message: /^block\.events\[0\]\.stream/ })
})

t.test('commit messages are domain-separated and pinned', async (t) => {
  const hash = new Uint8Array(32).fill(0xab)
  const m = commitMessage(3, 17, hash)
  t.equal(Buffer.from(m.subarray(0, 15)).toString('latin1'), 'zixt/commit/v1\u0000')
  t.equal(toHex(m), '7a6978742f636f6d6d69742f763100a3647669657703666865696768741169626c6f636b48617368' + '5820' + 'ab'.repeat(32))
  t.not(toHex(commitMessage(4, 17, hash)), toHex(m), 'the view is signed')
  t.not(toHex(commitMessage(3, 18, hash)), toHex(m), 'the height is signed')
  t.throws(() => commitMessage(3, 17, new Uint8Array(31)), { name: 'AssertionError' })
})

t.test('buildBlock given the events\' hashes (from sealEvents) builds the very block it builds without them', async (t) => {
  const { blocks } = chain(3)
  let tip: ChainTip = GENESIS_TIP
  for (const b of blocks) {
    const draft = { view: b.header.view, time: b.header.time, proposer: b.header.proposer, commands: b.commands, events: b.events }
    const plain = buildBlock(draft, tip, sha3)
    const given = buildBlock({ ...draft, leaves: b.events.map((e) => eventHash(e, sha3)) }, tip, sha3)
    t.same(encodeBlock(given.block), encodeBlock(plain.block), `block ${b.header.height}`)
    t.same(toHex(given.tip.blockHash), toHex(plain.tip.blockHash))
    t.throws(() => buildBlock({ ...draft, leaves: [] }, tip, sha3), /0 leaves for 5 events/, 'a leaf count that differs is a bug, refused')
    tip = plain.tip
  }
})
