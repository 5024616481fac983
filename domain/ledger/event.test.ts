import { createHash } from 'node:crypto'
import t from 'tap'
import { decode, encode, equalBytes, type Value } from './codec.ts'
import type { EventDraft, EventEnvelope } from './envelope.ts'
import { decodeEvent, encodeEvent, eventHash, mergeStreamHeads, sealEvents, ZERO_HASH, type StreamHead } from './event.ts'
import { leafHash, type HashFn } from './merkle.ts'
import { seededRng } from './testing/prng.ts'
import { randomValue } from './testing/values.ts'

const sha3: HashFn = (d) => new Uint8Array(createHash('sha3-256').update(d).digest())

const sample: EventEnvelope = {
  position: 41, stream: 'thread:t1', streamVersion: 3, prevHash: new Uint8Array(32).fill(7), type: 'MessagePosted',
  payload: { ciphertext: new Uint8Array([1, 2, 3]), messageId: 'm1' }, commandId: 'AAAAAAAAAAAAAAAAAAAAAA', author: 'u1',
  blockHeight: 9, time: 1_790_000_000_123,
}

t.test('an event encodes to pinned bytes (stored bytes never change) and decodes back', async (t) => {
  const bytes = encodeEvent(sample)
  t.equal(Buffer.from(bytes).toString('hex'),
    'aa6474696d651b000001a0c4506c7b64747970656d4d657373616765506f7374656466617574686f' +
    '726275316673747265616d697468726561643a7431677061796c6f6164a2696d6573736167654964' +
    '626d316a636970686572746578744301020368706f736974696f6e18296870726576486173685820' +
    '070707070707070707070707070707070707070707070707070707070707070769636f6d6d616e64' +
    '496476414141414141414141414141414141414141414141416b626c6f636b486569676874096d73' +
    '747265616d56657273696f6e03')
  t.same(decodeEvent(bytes), sample)
  t.same(eventHash(sample, sha3), leafHash(bytes, sha3), 'the event hash is its RFC 9162 leaf hash')
})

t.test('random events round trip', async (t) => {
  const rng = seededRng(3)
  for (let i = 0; i < 300; i++) {
    const payload = { body: randomValue(rng, 2, 6), n: i } as { readonly [k: string]: Value }
    const e: EventEnvelope = { ...sample, position: rng.int(1e9), streamVersion: rng.int(1e6), prevHash: rng.bytes(32), payload }
    const bytes = encodeEvent(e)
    if (!equalBytes(encodeEvent(decodeEvent(bytes)), bytes)) t.fail(`case ${i}`)
  }
  t.pass('300 random events re-encode to the same bytes')
})

t.test('decoding names the bad field', async (t) => {
  const base = decode(encodeEvent(sample)) as Record<string, Value>
  const cases: [Record<string, Value>, RegExp][] = [
    [{ ...base, prevHash: new Uint8Array(31) }, /^event\.prevHash: expected 32 bytes, got 31/],
    [{ ...base, prevHash: 'x' }, /^event\.prevHash: expected a byte string/],
    [{ ...base, position: -1 }, /^event\.position: expected a non-negative integer/],
    [{ ...base, streamVersion: '3' }, /^event\.streamVersion/],
    [{ ...base, stream: '' }, /^event\.stream: 0 bytes is shorter than 1/],
    [{ ...base, stream: 'x'.repeat(257) }, /^event\.stream: longer than 256 bytes/],
    [{ ...base, stream: 'ü'.repeat(129) }, /^event\.stream: 258 bytes exceeds 256/],
    [{ ...base, type: 7 }, /^event\.type: expected a text string, got number 7/],
    [{ ...base, payload: [1] }, /^event\.payload: expected a map, got an array/],
    [{ ...base, author: null }, /^event\.author/],
    [{ ...base, extra: 1 }, /^event\.extra: unknown field/],
  ]
  for (const [v, message] of cases) t.throws(() => decodeEvent(encode(v)), { code: 'ZIXT_ERR_SCHEMA', message })
  const { time: _time, ...missing } = base
  t.throws(() => decodeEvent(encode(missing)), { code: 'ZIXT_ERR_SCHEMA', message: /^event\.time: missing/ })
  t.throws(() => decodeEvent(encode([1])), { code: 'ZIXT_ERR_SCHEMA', message: /^event: expected a map/ })
  t.throws(() => decodeEvent(encodeEvent(sample).subarray(1)), { code: 'ZIXT_ERR_NON_CANONICAL' })
})

t.test('sealEvents assigns positions, stream versions and the prevHash chain', async (t) => {
  const heads = new Map<string, StreamHead>()
  const ctx = { position: 100, blockHeight: 5, time: 1234, commandId: 'c1', author: 'u1' }
  const drafts: EventDraft[] = [
    { stream: 'thread:a', type: 'ThreadCreated', payload: {} },
    { stream: 'user:u1', type: 'ThreadJoined', payload: { thread: 'a' } },
    { stream: 'thread:a', type: 'MemberAdded', payload: { user: 'u1' } },
  ]
  const first = sealEvents(heads, drafts, ctx, sha3)
  t.same(first.events.map((e) => [e.position, e.stream, e.streamVersion]), [[100, 'thread:a', 0], [101, 'user:u1', 0], [102, 'thread:a', 1]])
  t.same(first.events[0]!.prevHash, ZERO_HASH, 'a stream starts from 32 zero bytes')
  t.same(first.events[2]!.prevHash, eventHash(first.events[0]!, sha3), 'same-stream events chain within one call')
  t.ok(first.events.every((e) => e.blockHeight === 5 && e.time === 1234 && e.commandId === 'c1' && e.author === 'u1'))
  t.equal(heads.size, 0, 'the given heads are not modified')
  t.same([...first.heads.keys()].sort(), ['thread:a', 'user:u1'], 'only touched streams come back')
  t.same(first.heads.get('thread:a'), { streamVersion: 1, hash: eventHash(first.events[2]!, sha3) })
  t.same(first.hashes, first.events.map((e) => eventHash(e, sha3)), 'each event\'s hash, in order')

  const merged = mergeStreamHeads(heads, first.heads)
  const second = sealEvents(merged, [{ stream: 'thread:a', type: 'MessagePosted', payload: {} }], { ...ctx, position: 103, blockHeight: 6 }, sha3)
  t.equal(second.events[0]!.streamVersion, 2)
  t.same(second.events[0]!.prevHash, eventHash(first.events[2]!, sha3), 'the chain continues across calls')
  t.same([...second.heads.keys()], ['thread:a'])
})

t.test('sealEvents refuses drafts it could not encode', async (t) => {
  const ctx = { position: 0, blockHeight: 0, time: 0, commandId: 'c', author: 'u' }
  t.throws(() => sealEvents(new Map(), [{ stream: '', type: 'X', payload: {} }], ctx, sha3), { message: /^drafts\[0\]\.stream/ })
  t.throws(() => sealEvents(new Map(), [{ stream: 's', type: 'x'.repeat(200), payload: {} }], ctx, sha3), { message: /^drafts\[0\]\.type/ })
  t.throws(() => sealEvents(new Map(), [{ stream: 's', type: 'X', payload: [] as never }], ctx, sha3), { message: /^drafts\[0\]\.payload/ })
})
