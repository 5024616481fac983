import t from 'tap'
import { concatBytes, fromBase64url, fromHex, isBase64url, toBase64url, toHex, utf8Decode, utf8Encode } from './encoding.ts'
import { ErrorCode, ZixtError } from './errors.ts'

const bytes = (s: string) => new TextEncoder().encode(s)
const nonCanonical = (field: string) => ({ code: ErrorCode.nonCanonical, message: new RegExp(`^${field}:`) })

t.test('base64url matches the RFC 4648 §10 vectors (url alphabet, padding dropped)', async (t) => {
  const vectors: [string, string][] = [
    ['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy'],
  ]
  for (const [plain, encoded] of vectors) {
    t.equal(toBase64url(bytes(plain)), encoded)
    t.same(fromBase64url(encoded), bytes(plain))
  }
  t.equal(toBase64url(Uint8Array.of(0xfb, 0xff, 0xbf)), '-_-_', 'uses - and _ where base64 has + and /')
})

t.test('base64url round-trips every length and byte value', async (t) => {
  for (let n = 0; n < 70; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 0xff)
    t.same(fromBase64url(toBase64url(b)), b, `length ${n}`)
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i)
  t.same(fromBase64url(toBase64url(all)), all)
})

t.test('long texts: the same spelling as Node\'s encoders at every size, short and long, above the reused buffer too', async (t) => {
  const sizes = [0, 1, 2, 3, 47, 48, 49, 50, 255, 256, 4779, 12_287, 12_288, 12_289, 40_000]
  for (const n of sizes) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n * 7 + (i >> 8)) & 0xff)
    t.equal(toBase64url(b), Buffer.from(b).toString('base64url'), `base64url, ${n} bytes`)
    t.equal(toHex(b), Buffer.from(b).toString('hex'), `hex, ${n} bytes`)
    t.same(fromBase64url(toBase64url(b)), b, `round trip, ${n} bytes`)
  }
  const first = toBase64url(new Uint8Array(3000).fill(0xff))
  toBase64url(new Uint8Array(3000)) // reuses the buffer
  t.equal(first, '_'.repeat(4000), 'an earlier text does not change when the buffer is reused')
})

t.test('base64url rejects every non-canonical spelling, naming the field', async (t) => {
  const bad = [
    'Zg==', // padding
    'Zg=', 'Zm9v\n', ' Zm9v', 'Zm+v', 'Zm/v', 'Zm9v.', 'Zé9v',
    'Z', 'Zm9vY', // length 1 mod 4
    'Zh', // 'f' is Zg; h sets a trailing bit
    'Zm9', // 'fo' is Zm8; 9 sets trailing bits
  ]
  for (const text of bad) t.throws(() => fromBase64url(text, 'signature'), nonCanonical('signature'), JSON.stringify(text))
  t.throws(() => fromBase64url(42 as unknown as string, 'publicKey'), nonCanonical('publicKey'))
  const err = (() => { try { fromBase64url('Zh', 'salt') } catch (e) { return e } })()
  t.ok(err instanceof ZixtError)
  t.match((err as Error).message, /trailing bits/)
})

t.test('long texts (decoded natively in Node) are held to the same spelling: every fault of a short one, placed anywhere', async (t) => {
  const long = toBase64url(Uint8Array.from({ length: 3309 }, (_, i) => (i * 73) & 0xff)) // an ML-DSA-65 signature's size
  t.ok(isBase64url(long))
  t.same(fromBase64url(long), Buffer.from(long, 'base64url'))
  t.equal(Object.getPrototypeOf(fromBase64url(long)), Uint8Array.prototype, 'a plain Uint8Array, not a slice of Buffer\'s pool')
  const body = long.slice(0, 400) // length 0 mod 4
  const bad = [
    `${body}Zg==`, `${body}Zg=`, `${body}Zm9v\n`, ` ${body}`, `${body.slice(0, 200)}+${body.slice(201)}`, `${body.slice(0, 200)}/${body.slice(201)}`,
    `${body.slice(0, 100)}.${body.slice(101)}`, `${body.slice(0, 100)}é${body.slice(101)}`, `${body.slice(0, 100)}\u0000${body.slice(101)}`,
    `${body}Z`, `${body}Zh`, `${body}Zm9`, `${body}====`,
  ]
  for (const text of bad) {
    t.notOk(isBase64url(text), `isBase64url ${JSON.stringify(text.slice(-8))} (length ${text.length})`)
    t.throws(() => fromBase64url(text, 'signature'), nonCanonical('signature'), `fromBase64url …${JSON.stringify(text.slice(-8))}`)
  }
  for (let n = 180; n < 200; n++) { // across the length where the native path starts
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff)
    const text = toBase64url(b)
    t.ok(isBase64url(text), `${text.length} characters`)
    t.same(fromBase64url(text), b, `${text.length} characters`)
    if (n % 3 !== 0) t.notOk(isBase64url(`${text.slice(0, -1)}${text.at(-1) === '_' ? '-' : '_'}`), `${text.length} characters, trailing bits set`)
  }
})

t.test('hex encodes lower case and decodes either case strictly', async (t) => {
  t.equal(toHex(Uint8Array.of(0, 1, 0xab, 0xff)), '0001abff')
  t.same(fromHex('0001ABff'), Uint8Array.of(0, 1, 0xab, 0xff))
  t.same(fromHex(''), new Uint8Array(0))
  for (const text of ['0', 'abc', '0x00', 'zz', '00 11', 'g0']) t.throws(() => fromHex(text, 'nonce'), nonCanonical('nonce'), text)
})

t.test('utf8 round-trips and rejects ill-formed input', async (t) => {
  const s = 'zixt ✓ 𝄞 ü'
  t.equal(utf8Decode(utf8Encode(s)), s)
  t.throws(() => utf8Decode(Uint8Array.of(0xc3, 0x28), 'username'), nonCanonical('username'))
  t.throws(() => utf8Decode(Uint8Array.of(0xed, 0xa0, 0x80)), nonCanonical('value'), 'lone surrogate')
})

t.test('concatBytes joins in order', async (t) => {
  t.same(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)), Uint8Array.of(1, 2, 3))
})
