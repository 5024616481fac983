// The two backends are interchangeable: keys from either, signatures/ciphertexts from either,
// checked by either. Every combination for ML-DSA and ML-KEM; SLH-DSA with one JS signature.
import t from 'tap'
import { utf8Encode } from '../encoding.ts'
import { equalBytes } from '../ledger/codec.ts'
import { backends } from './testVectors.ts'
import type { CryptoFacade } from './types.ts'

const message = utf8Encode('BlockCommitted h=7')
const context = utf8Encode('zixt/pbft/commit/v1')
const combos: [CryptoFacade, CryptoFacade, CryptoFacade][] = backends.flatMap((a) => backends.flatMap((b) => backends.map((c) => [a, b, c] as [CryptoFacade, CryptoFacade, CryptoFacade])))

for (const key of ['mlDsa65', 'mlDsa87'] as const) {
  t.test(`${key}: keys from A, signed by B, verified by C`, async (t) => {
    for (const [a, b, c] of combos) {
      const keys = a[key].keygen()
      const signature = b[key].sign(keys.secretKey, message, context)
      const label = `${a.backend} keys, ${b.backend} signs, ${c.backend} verifies`
      t.equal(c[key].verify(keys.publicKey, message, signature, context), true, label)
      t.equal(c[key].verify(keys.publicKey, message, signature, utf8Encode('zixt/other')), false, `${label}: other context`)
    }
  })

  t.test(`${key}: the same seed gives the same key pair in both backends`, async (t) => {
    const seed = backends[0]!.randomBytes(32)
    const [x, y] = backends.map((c) => c[key].keygen(seed))
    t.same(x, y)
  })
}

t.test('ML-KEM-1024: keys from A, encapsulated by B, decapsulated by C', async (t) => {
  for (const [a, b, c] of combos) {
    const keys = a.mlKem1024.keygen()
    const { cipherText, sharedSecret } = b.mlKem1024.encapsulate(keys.publicKey)
    t.same(c.mlKem1024.decapsulate(cipherText, keys.secretKey), sharedSecret, `${a.backend} keys, ${b.backend} encapsulates, ${c.backend} decapsulates`)
  }
  const seed = backends[0]!.randomBytes(64)
  const [x, y] = backends.map((c) => c.mlKem1024.keygen(seed))
  t.same(x, y, 'same seed, same key pair')
  const { cipherText } = backends[0]!.mlKem1024.encapsulate(x!.publicKey)
  cipherText[100]! ^= 0x80
  const [kx, ky] = backends.map((c) => c.mlKem1024.decapsulate(cipherText, x!.secretKey))
  t.same(kx, ky, 'both backends give the same implicit-rejection key')
})

t.test('SLH-DSA-SHAKE-256f: native and noble keys, signatures and verification interoperate', async (t) => {
  const [native, noble] = backends as [CryptoFacade, CryptoFacade]
  const seed = native.randomBytes(96)
  const fromNoble = noble.slhDsaShake256f.keygen(seed)
  t.same(native.slhDsaShake256f.keygen(seed), fromNoble, 'same seed, same key pair')
  const nativeSig = native.slhDsaShake256f.sign(fromNoble.secretKey, message, context)
  t.equal(nativeSig.length, 49856)
  t.equal(noble.slhDsaShake256f.verify(fromNoble.publicKey, message, nativeSig, context), true, 'noble keys, native signs, noble verifies')
  t.equal(native.slhDsaShake256f.verify(fromNoble.publicKey, message, nativeSig, context), true, 'noble keys, native signs, native verifies')
  const fromNative = native.slhDsaShake256f.keygen()
  const nobleSig = noble.slhDsaShake256f.sign(fromNative.secretKey, message, context) // the one JS signature (~seconds)
  t.equal(native.slhDsaShake256f.verify(fromNative.publicKey, message, nobleSig, context), true, 'native keys, noble signs, native verifies')
  t.equal(noble.slhDsaShake256f.verify(fromNative.publicKey, message, nobleSig, context), true, 'native keys, noble signs, noble verifies')
  t.equal(native.slhDsaShake256f.verify(fromNative.publicKey, message, nobleSig), false, 'context matters')
})

t.test('AES-256-GCM: identical ciphertexts, each decrypts the other', async (t) => {
  const [native, noble] = backends as [CryptoFacade, CryptoFacade]
  for (const size of [0, 1, 15, 16, 17, 1024, 65_537, 1024 * 1024]) {
    const key = native.randomBytes(32)
    const nonce = native.randomBytes(12)
    const plaintext = native.randomBytes(size)
    const aad = native.randomBytes(size % 40)
    const sealed = native.aes256gcm.encrypt(key, nonce, plaintext, aad)
    // equalBytes, not t.same: tap's deep compare of a MiB takes a second
    t.ok(equalBytes(noble.aes256gcm.encrypt(key, nonce, plaintext, aad), sealed), `${size} bytes: same ciphertext`)
    t.ok(equalBytes(noble.aes256gcm.decrypt(key, nonce, sealed, aad), plaintext), `${size} bytes: noble opens native`)
    t.ok(equalBytes(native.aes256gcm.decrypt(key, nonce, sealed, aad), plaintext), `${size} bytes: native opens its own`)
  }
})

t.test('hashes, HMAC, HKDF and scrypt give the same bytes', async (t) => {
  const [native, noble] = backends as [CryptoFacade, CryptoFacade]
  for (const size of [0, 1, 135, 136, 137, 1000, 100_000]) {
    const data = native.randomBytes(size)
    t.same(noble.sha256(data), native.sha256(data), `sha256 ${size}`)
    t.same(noble.sha3_256(data), native.sha3_256(data), `sha3_256 ${size}`)
    t.same(noble.sha3_512(data), native.sha3_512(data), `sha3_512 ${size}`)
    for (const h of ['sha1', 'sha256', 'sha512'] as const) t.same(noble.hmac(h, data, message), native.hmac(h, data, message), `hmac ${h} key ${size}`)
  }
  const params = { N: 2 ** 14, r: 8, p: 1, dkLen: 32 }
  const password = utf8Encode('correct horse battery staple ✓')
  const salt = native.randomBytes(16)
  t.same(await noble.scrypt(password, salt, params), await native.scrypt(password, salt, params), 'scrypt N=2^14')
})
