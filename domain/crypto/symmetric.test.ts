// AES-256-GCM, HKDF, HMAC, SHA-2/SHA-3 and scrypt against published vectors, both backends.
import t from 'tap'
import { fromHex, toHex, utf8Encode } from '../encoding.ts'
import { ErrorCode } from '../errors.ts'
import { backends, hex, loadVectors, type WycheproofFile } from './testVectors.ts'
import type { HmacHash } from './types.ts'

type GcmFile = WycheproofFile<
  { keySize: number; ivSize: number; tagSize: number },
  { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }
>
type HkdfFile = WycheproofFile<{}, { ikm: string; salt: string; info: string; size: number; okm: string }>
type Hotp = { secretHex: string; tests: { count: number; hmacSha1Hex: string; hotp: string }[] }
type Totp = { keys: Record<'SHA1' | 'SHA256' | 'SHA512', { hex: string }>; tests: { timeSeconds: number; mode: 'SHA1' | 'SHA256' | 'SHA512'; totp: string }[] }

const gcmVectors = loadVectors<GcmFile>('wycheproof/aes_gcm_test.json')

/** RFC 4226 §5.3 dynamic truncation; RFC 6238 §4 uses it with T = floor(time / 30). */
function otp(mac: Uint8Array, digits: number): string {
  const offset = mac[mac.length - 1]! & 0x0f
  const code = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!
  return String(code % 10 ** digits).padStart(digits, '0')
}

function counterBytes(counter: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(counter))
  return out
}

for (const crypto of backends) {
  const gcm = crypto.aes256gcm
  t.test(`${crypto.backend}: Wycheproof AES-GCM, 256-bit key / 96-bit IV / 128-bit tag`, async (t) => {
    const groups = gcmVectors.testGroups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128)
    let valid = 0
    let invalid = 0
    for (const v of groups.flatMap((g) => g.tests)) {
      const [key, iv, aad, msg] = [hex(v.key), hex(v.iv), hex(v.aad), hex(v.msg)]
      const sealed = fromHex(v.ct + v.tag)
      const label = `tcId ${v.tcId} ${v.comment ?? ''}`
      if (v.result === 'valid') {
        valid++
        t.same(gcm.encrypt(key, iv, msg, aad), sealed, `${label} encrypt`)
        t.same(gcm.decrypt(key, iv, sealed, aad), msg, `${label} decrypt`)
      } else {
        invalid++
        t.throws(() => gcm.decrypt(key, iv, sealed, aad), { code: ErrorCode.decryptFailed, message: /^sealed:/ }, label)
      }
    }
    t.ok(valid >= 39 && invalid >= 27, `${valid} valid, ${invalid} invalid`)
  })

  t.test(`${crypto.backend}: Wycheproof AES-GCM of other key or IV sizes is refused`, async (t) => {
    const others = gcmVectors.testGroups.filter((g) => !(g.keySize === 256 && g.ivSize === 96))
    for (const g of others) {
      const argument = g.keySize !== 256 ? 'key' : 'nonce'
      for (const v of g.tests) {
        const sealed = fromHex(v.ct + v.tag)
        const expected = { code: ErrorCode.invalidLength, message: new RegExp(`^${argument}: expected ${argument === 'key' ? 32 : 12} bytes`) }
        t.throws(() => gcm.decrypt(hex(v.key), hex(v.iv), sealed, hex(v.aad)), expected, `tcId ${v.tcId} decrypt`)
        t.throws(() => gcm.encrypt(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad)), expected, `tcId ${v.tcId} encrypt`)
      }
    }
  })

  t.test(`${crypto.backend}: Wycheproof HKDF-SHA-256 through the generic hkdf`, async (t) => {
    const file = loadVectors<HkdfFile>('wycheproof/hkdf_sha256_test.json')
    for (const v of file.testGroups.flatMap((g) => g.tests)) {
      const run = () => crypto.hkdf('sha256', hex(v.ikm), hex(v.salt), hex(v.info), v.size)
      if (v.result === 'valid') t.equal(toHex(run()), v.okm, `tcId ${v.tcId}`)
      else t.throws(run, { code: ErrorCode.invalidArgument, message: /^length: expected an integer in \[1, 8160\]/ }, `tcId ${v.tcId}`)
    }
  })

  t.test(`${crypto.backend}: RFC 4226 HOTP values through hmac('sha1')`, async (t) => {
    const file = loadVectors<Hotp>('otp/rfc4226-hotp.json')
    for (const v of file.tests) {
      const mac = crypto.hmac('sha1', hex(file.secretHex), counterBytes(v.count))
      t.equal(toHex(mac), v.hmacSha1Hex, `count ${v.count} HMAC`)
      t.equal(otp(mac, 6), v.hotp, `count ${v.count} HOTP`)
    }
  })

  t.test(`${crypto.backend}: RFC 6238 TOTP values through hmac(sha1|sha256|sha512)`, async (t) => {
    const file = loadVectors<Totp>('otp/rfc6238-totp.json')
    const names: Record<string, HmacHash> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' }
    t.equal(file.tests.length, 18)
    for (const v of file.tests) {
      const mac = crypto.hmac(names[v.mode]!, hex(file.keys[v.mode].hex), counterBytes(Math.floor(v.timeSeconds / 30)))
      t.equal(otp(mac, 8), v.totp, `${v.mode} at ${v.timeSeconds}`)
    }
  })

  t.test(`${crypto.backend}: SHA-256 / SHA3-256 / SHA3-512 known answers`, async (t) => {
    // FIPS 180-4 and FIPS 202 examples ("abc", and the empty string for SHA3-256).
    const abc = utf8Encode('abc')
    t.equal(toHex(crypto.sha256(abc)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    t.equal(toHex(crypto.sha3_256(abc)), '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532')
    t.equal(toHex(crypto.sha3_256(new Uint8Array(0))), 'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a')
    t.equal(
      toHex(crypto.sha3_512(abc)),
      'b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0',
    )
  })

  t.test(`${crypto.backend}: scrypt RFC 7914 §12 vectors`, async (t) => {
    const a = await crypto.scrypt(new Uint8Array(0), new Uint8Array(0), { N: 16, r: 1, p: 1, dkLen: 64 })
    t.equal(
      toHex(a),
      '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
    )
    const b = await crypto.scrypt(utf8Encode('password'), utf8Encode('NaCl'), { N: 1024, r: 8, p: 16, dkLen: 64 })
    t.equal(
      toHex(b),
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    )
  })

  t.test(`${crypto.backend}: randomBytes gives fresh bytes of the asked length`, async (t) => {
    t.equal(crypto.randomBytes(0).length, 0)
    const a = crypto.randomBytes(70_000)
    t.equal(a.length, 70_000)
    t.notSame(a.subarray(0, 32), crypto.randomBytes(32))
    t.ok(a.subarray(65_536).some((b) => b !== 0), 'filled past the first getRandomValues chunk')
  })
}

t.test('HKDF-SHA3-256 and HKDF-SHA-512 agree across backends (no published SHA-3 HKDF vectors)', async (t) => {
  const [native, noble] = backends
  for (const length of [1, 32, 33, 100, 255 * 32]) {
    const ikm = native!.randomBytes(40)
    const salt = native!.randomBytes(length % 50)
    const info = utf8Encode(`zixt/test/${length}`)
    const a = native!.hkdfSha3_256(ikm, salt, info, length)
    t.equal(a.length, length)
    t.same(noble!.hkdfSha3_256(ikm, salt, info, length), a, `sha3_256 L=${length}`)
    if (length <= 255 * 64) t.same(noble!.hkdf('sha512', ikm, salt, info, length), native!.hkdf('sha512', ikm, salt, info, length))
  }
  t.notSame(native!.hkdfSha3_256(utf8Encode('k'), new Uint8Array(0), new Uint8Array(0), 32), native!.hkdf('sha256', utf8Encode('k'), new Uint8Array(0), new Uint8Array(0), 32))
})
