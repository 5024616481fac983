import t, { type Test } from 'tap'
import { ErrorCode } from '../errors.ts'
import { limits } from '../limits.ts'
import { decode, encode, equalBytes, mapValueSpan, skipItem, type Value } from './codec.ts'
import { seededRng } from './testing/prng.ts'
import { randomValue } from './testing/values.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function rejects(t: Test, bytesHex: string, pattern: RegExp, why: string): void {
  t.throws(() => decode(hex(bytesHex)), { code: ErrorCode.nonCanonical, message: pattern }, `${why}: ${bytesHex}`)
}

t.test('RFC 8949 Appendix A examples inside the subset', async (t) => {
  const cases: [Value, string][] = [
    [0, '00'], [1, '01'], [10, '0a'], [23, '17'], [24, '1818'], [25, '1819'], [100, '1864'],
    [1000, '1903e8'], [1000000, '1a000f4240'], [1000000000000, '1b000000e8d4a51000'],
    [-1, '20'], [-10, '29'], [-100, '3863'], [-1000, '3903e7'],
    [false, 'f4'], [true, 'f5'], [null, 'f6'],
    [new Uint8Array(0), '40'], [hex('01020304'), '4401020304'],
    ['', '60'], ['a', '6161'], ['IETF', '6449455446'], ['"\\', '62225c'], ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'], ['\ud800\udd51', '64f0908591'],
    [[], '80'], [[1, 2, 3], '83010203'], [[1, [2, 3], [4, 5]], '8301820203820405'],
    [{}, 'a0'], [{ a: 1, b: [2, 3] }, 'a26161016162820203'], [['a', { b: 'c' }], '826161a161626163'],
    [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
    [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'], [Number.MIN_SAFE_INTEGER, '3b001ffffffffffffe'],
  ]
  for (const [value, expected] of cases) {
    t.equal(toHex(encode(value)), expected, `encode ${JSON.stringify(value)}`)
    t.same(decode(hex(expected)), value, `decode ${expected}`)
  }
})

t.test('map keys sort by encoded bytes: shorter keys first, then bytewise', async (t) => {
  const bytes = encode({ b: 1, aa: 2, a: 3, '\u00fc': 4, z: 5 })
  t.same(Object.keys(decode(bytes) as object), ['a', 'b', 'z', 'aa', '\u00fc'])
  t.equal(toHex(bytes), 'a5616103616201617a0562616102' + '62c3bc04')
})

t.test('a map encodes the same whatever order its keys were inserted in', async (t) => {
  const rng = seededRng(20261206)
  const keys = ['type', 'view', 'height', 'a', 'zz', 'blockHash', 'b', '\u00fc', 'proposalDigest', 'x1', 'headerView', 'c']
  // the reference order, computed apart from the encoder: shorter UTF-8 first, then bytewise
  const utf8Of = (k: string): Buffer => Buffer.from(k, 'utf8')
  const inOrder = [...keys].sort((a, b) => utf8Of(a).length - utf8Of(b).length || Buffer.compare(utf8Of(a), utf8Of(b)))
  t.same(inOrder, ['a', 'b', 'c', 'x1', 'zz', '\u00fc', 'type', 'view', 'height', 'blockHash', 'headerView', 'proposalDigest'])
  for (let round = 0; round < 300; round++) {
    const shuffled = [...keys]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1)
      ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
    }
    const n = 1 + rng.int(keys.length)
    const some = shuffled.slice(0, n)
    // inserted in the reference order, the map is written as it stands (no sorting involved)
    const expected = encode(Object.fromEntries(inOrder.filter((k) => some.includes(k)).map((k) => [k, keys.indexOf(k)])))
    if (!equalBytes(encode(Object.fromEntries(some.map((k) => [k, keys.indexOf(k)]))), expected)) t.fail(`round ${round}: order ${some.join(',')}`)
  }
  // a large map with integer-like keys, which JS lists first in numeric order (decode refuses
  // keys out of canonical order, so a decode that succeeds checks the order)
  const entries: [string, number][] = [...Array.from({ length: 40 }, (_, i): [string, number] => [`k${i}`, i]), ...Array.from({ length: 40 }, (_, i): [string, number] => [String(1000 - i * 7), i])]
  const bytes = encode(Object.fromEntries(entries))
  t.equal(Object.keys(decode(bytes) as object).length, 80)
  t.ok(equalBytes(encode(Object.fromEntries([...entries].reverse())), bytes), 'the same bytes from the reverse insertion order')
})

t.test('round trip of random values is the identity and re-encodes to the same bytes', async (t) => {
  const rng = seededRng(20261122)
  let checked = 0
  for (let i = 0; i < 3000; i++) {
    const v = randomValue(rng)
    const bytes = encode(v)
    const back = decode(bytes)
    if (!equalBytes(encode(back), bytes)) t.fail(`re-encoding differs for case ${i}`)
    t.same(back, v, `case ${i}`, { diagnostic: false })
    checked++
  }
  t.equal(checked, 3000)
})

t.test('decoded byte strings are fresh Uint8Arrays, even from a Buffer', async (t) => {
  const input = Buffer.from(encode({ x: new Uint8Array([1, 2, 3]) }))
  const out = decode(input) as { x: Uint8Array }
  t.equal(Object.getPrototypeOf(out.x), Uint8Array.prototype)
  input[input.length - 1] = 9
  t.same([...out.x], [1, 2, 3], 'changing the input does not change the decoded value')
})

t.test('rejects non-shortest heads', async (t) => {
  rejects(t, '1805', /non-shortest/, 'uint 5 in one extra byte')
  rejects(t, '1817', /non-shortest/, 'uint 23 in one extra byte')
  rejects(t, '1900ff', /non-shortest/, 'uint 255 in two bytes')
  rejects(t, '1a0000ffff', /non-shortest/, 'uint 65535 in four bytes')
  rejects(t, '1b00000000ffffffff', /non-shortest/, 'uint 2^32-1 in eight bytes')
  rejects(t, '3800', /non-shortest/, 'negint -1 in one extra byte')
  rejects(t, '5801ff', /non-shortest/, 'byte string length')
  rejects(t, '780161', /non-shortest/, 'text string length')
  rejects(t, '980101', /non-shortest/, 'array length')
  rejects(t, 'b801616101', /non-shortest/, 'map length')
})

t.test('rejects out-of-order and duplicate map keys', async (t) => {
  rejects(t, 'a2616201616101', /out of canonical order/, '{b, a}')
  rejects(t, 'a2616101616101', /duplicate/, '{a, a}')
  rejects(t, 'a262616101616201', /out of canonical order/, '{aa, b}: bytewise text order is not canonical')
  rejects(t, 'a10101', /not a text string/, 'integer key')
  rejects(t, 'a1410101', /not a text string/, 'byte-string key')
})

t.test('rejects indefinite lengths, floats, simple values and tags', async (t) => {
  for (const ib of ['5f', '7f', '9f', 'bf']) rejects(t, `${ib}ff`, /indefinite/, 'indefinite length')
  rejects(t, 'ff', /unsupported simple/, 'lone break')
  for (const ai of ['1c', '1d', '1e']) rejects(t, ai, /reserved/, 'reserved additional info')
  rejects(t, 'f93c00', /float/, 'half float 1.0')
  rejects(t, 'fa3f800000', /float/, 'single float 1.0')
  rejects(t, 'fb3ff0000000000000', /float/, 'double float 1.0')
  rejects(t, 'f7', /simple/, 'undefined')
  rejects(t, 'f0', /simple/, 'simple value 16')
  rejects(t, 'f820', /simple/, 'simple value 32')
  rejects(t, 'c11a514b67b0', /tags are not allowed/, 'epoch time tag')
  rejects(t, 'd8184100', /tags are not allowed/, 'tag 24')
})

t.test('rejects trailing bytes and truncated input', async (t) => {
  rejects(t, '0000', /1 trailing bytes/, 'two items')
  rejects(t, '', /end of input/, 'empty input')
  const full = encode({ a: [1, 'xyz', new Uint8Array(300), 70000, { b: null }], c: 'ü' })
  for (let n = 0; n < full.length; n++) {
    t.throws(() => decode(full.subarray(0, n)), { code: ErrorCode.nonCanonical }, `prefix ${n}`, { diagnostic: false })
  }
})

t.test('rejects invalid UTF-8', async (t) => {
  rejects(t, '62c080', /UTF-8/, 'overlong NUL')
  rejects(t, '63eda080', /UTF-8/, 'UTF-16 surrogate')
  rejects(t, '64f4908080', /UTF-8/, 'above U+10FFFF')
  rejects(t, '6180', /UTF-8/, 'lone continuation byte')
  rejects(t, '62e6b0', /UTF-8/, 'cut sequence')
  rejects(t, '61ff', /UTF-8/, 'byte 0xff')
  rejects(t, 'a162c08001', /UTF-8/, 'bad key')
  t.same(decode(hex('63efbbbf')), '\ufeff', 'a BOM is data, kept')
})

t.test('rejects integers outside the safe range', async (t) => {
  rejects(t, '1b0020000000000000', /exceeds 2\^53/, '2^53')
  rejects(t, '1bffffffffffffffff', /exceeds 2\^53/, '2^64-1')
  rejects(t, '3b001fffffffffffff', /below/, '-(2^53)')
  for (const v of [2 ** 53, -(2 ** 53), 0.5, NaN, Infinity, -Infinity]) {
    t.throws(() => encode(v), { code: ErrorCode.nonCanonical, message: /safe integer/ }, `encode ${v}`)
  }
})

t.test('rejects nesting deeper than the limit, in both directions', async (t) => {
  const deep = (n: number): Value => (n === 0 ? 0 : [deep(n - 1)])
  const ok = encode(deep(limits.codecDepthMax))
  t.same(decode(ok), deep(limits.codecDepthMax))
  t.throws(() => encode(deep(limits.codecDepthMax + 1)), { message: /nesting deeper/ })
  rejects(t, '81'.repeat(limits.codecDepthMax + 1) + '00', /nesting deeper/, 'arrays')
  rejects(t, 'a16161'.repeat(limits.codecDepthMax + 1) + '00', /nesting deeper/, 'maps')
})

t.test('rejects oversize lengths before allocating', async (t) => {
  rejects(t, '5a02000000', /exceeds limit/, '32 MiB byte string')
  rejects(t, '7a02000000', /exceeds limit/, '32 MiB text string')
  rejects(t, '9a00100000', /exceeds limit/, 'array of 2^20 items')
  rejects(t, 'ba00100000', /exceeds limit/, 'map of 2^20 entries')
  rejects(t, '5a00100000', /past the end/, 'length beyond the input')
  rejects(t, '9b001fffffffffffff', /exceeds limit/, 'array of 2^53-1 items')
})

t.test('encode and decode enforce the same item limit', async (t) => {
  const itemsMax = 50
  const fits = Array.from({ length: itemsMax - 1 }, (_, i) => i) // array + 49 items = 50
  const bytes = encode(fits, { itemsMax })
  t.same(decode(bytes, { itemsMax }), fits)
  const over = [...fits, 0]
  t.throws(() => encode(over, { itemsMax }), { message: /more than 50 items/ })
  t.throws(() => decode(encode(over), { itemsMax }), { message: /more than 50 items/ })
  const map = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, i])) // 1 + 2 × 25 = 51
  t.throws(() => encode(map, { itemsMax }), { message: /more than 50 items/ }, 'keys count as items')
  t.throws(() => decode(encode(map), { itemsMax }), { message: /more than 50 items/ })
})

t.test('encode refuses values outside the data model', async (t) => {
  const bad: [unknown, RegExp][] = [
    [undefined, /unsupported/], [new Date(0), /unsupported/], [new Map(), /unsupported/],
    [new Uint16Array(2), /unsupported/], [() => 1, /unsupported/], [1n, /unsupported/],
    ['\ud800', /well-formed/], [{ ['\udc00']: 1 }, /well-formed/], [Symbol('s'), /unsupported/],
  ]
  for (const [v, message] of bad) t.throws(() => encode(v as Value), { code: ErrorCode.nonCanonical, message }, String(typeof v))
  t.same(decode(encode({ a: undefined, b: 1 } as unknown as Value)), { b: 1 }, 'an undefined field is absent')
  const bare = Object.assign(Object.create(null) as object, { x: 1 }) as Value
  t.equal(toHex(encode(bare)), 'a1617801', 'null-prototype objects encode like plain ones')
  t.equal(toHex(encode(-0)), '00', '-0 is 0')
})

t.test('a "__proto__" key stays data', async (t) => {
  const v = decode(hex('a1695f5f70726f746f5f5f01')) as Record<string, Value>
  t.equal(Object.getPrototypeOf(v), Object.prototype)
  t.same(Object.keys(v), ['__proto__'])
  t.equal(toHex(encode(v)), 'a1695f5f70726f746f5f5f01')
})

t.test('every single-byte mutation fails or decodes to a value that re-encodes to the mutated bytes', async (t) => {
  const rng = seededRng(7)
  let accepted = 0
  let rejected = 0
  for (let i = 0; i < 150; i++) {
    const bytes = encode(randomValue(rng, 0, 3))
    for (let j = 0; j < 40; j++) {
      const m = mutate(rng, bytes)
      let v: Value
      try {
        v = decode(m)
      } catch (e) {
        if ((e as { code?: string }).code !== ErrorCode.nonCanonical) throw e
        rejected++
        continue
      }
      accepted++
      if (!equalBytes(encode(v), m)) t.fail(`mutation accepted but not canonical: ${toHex(m)}`)
    }
  }
  t.ok(rejected > 1000, `${rejected} mutations rejected`)
  t.ok(accepted > 100, `${accepted} mutations were other canonical values`)
})

function mutate(rng: ReturnType<typeof seededRng>, bytes: Uint8Array): Uint8Array {
  const at = rng.int(bytes.length + 1)
  switch (rng.int(4)) {
    case 0: { // flip one bit
      if (at === bytes.length) return bytes.slice(0, -1)
      const m = bytes.slice()
      m[at]! ^= 1 << rng.int(8)
      return m
    }
    case 1: { // replace one byte
      const m = bytes.slice()
      if (at < m.length) m[at] = rng.int(256)
      return m
    }
    case 2: { // insert one byte
      const m = new Uint8Array(bytes.length + 1)
      m.set(bytes.subarray(0, at))
      m[at] = rng.int(256)
      m.set(bytes.subarray(at), at + 1)
      return m
    }
    default: { // delete one byte
      if (bytes.length === 0) return bytes
      const k = Math.min(at, bytes.length - 1)
      const m = new Uint8Array(bytes.length - 1)
      m.set(bytes.subarray(0, k))
      m.set(bytes.subarray(k + 1), k)
      return m
    }
  }
}

t.test('skipItem finds the end of each item', async (t) => {
  const rng = seededRng(99)
  for (let i = 0; i < 300; i++) {
    const a = encode(randomValue(rng, 0, 4))
    const b = encode(randomValue(rng, 0, 4))
    const both = new Uint8Array(a.length + b.length)
    both.set(a)
    both.set(b, a.length)
    if (skipItem(both, 0) !== a.length) t.fail(`case ${i}`)
    if (skipItem(both, a.length) !== both.length) t.fail(`case ${i} second`)
  }
  t.throws(() => skipItem(hex('8301'), 0), { message: /end of input/ })
  t.throws(() => skipItem(hex('5a00010000'), 0), { message: /past the end/ })
})

t.test('mapValueSpan gives the bytes of one value of a map, as encode writes it alone', async (t) => {
  const rng = seededRng(7)
  for (let i = 0; i < 200; i++) {
    const inner = { a: randomValue(rng, 0, 3), body: randomValue(rng, 0, 3), zz: randomValue(rng, 0, 3) }
    const bytes = encode([1, inner] as Value)
    const at = skipItem(bytes, 1) // the map, after the array head and the 1
    const span = mapValueSpan(bytes, at, 'body')
    if (span === null || !equalBytes(bytes.subarray(span.start, span.end), encode(inner.body))) t.fail(`case ${i}`)
  }
  t.equal(mapValueSpan(encode({ a: 1, bodies: 2 }), 0, 'body'), null, 'a key that is only a prefix of another is not it')
  t.throws(() => mapValueSpan(encode([1]), 0, 'body'), { message: /not a map/ })
})
