// Bad input at every public entry, both backends: a CryptoError whose code is stable and
// whose message names the argument, or `false` from verify. Never a library crash, never a
// silent wrong answer.
import t, { type Test } from 'tap'
import { utf8Encode } from '../encoding.ts'
import { CryptoError, ErrorCode } from '../errors.ts'
import { backends } from './testVectors.ts'
import type { CryptoFacade, Signer } from './types.ts'

const length = (argument: string) => ({ code: ErrorCode.invalidLength, message: new RegExp(`^${argument}: expected`) })
const notBytes = (argument: string) => ({ code: ErrorCode.invalidArgument, message: new RegExp(`^${argument}: expected Uint8Array, got`) })
const invalid = (argument: string) => ({ code: ErrorCode.invalidArgument, message: new RegExp(`^${argument}:`) })
const asBytes = (value: unknown) => value as Uint8Array

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[index]! ^= 0x01
  return copy
}

const message = utf8Encode('PostMessage #1')
const context = utf8Encode('zixt/command/v1')

/** Shared signature checks; SLH-DSA passes one precomputed signature (signing costs ~0.2 s native, seconds in JS). */
function signerCases(t: Test, signer: Signer, keys: { publicKey: Uint8Array; secretKey: Uint8Array }, signature: Uint8Array): void {
  const { publicKey, secretKey } = keys
  t.equal(signer.verify(publicKey, message, signature, context), true, 'the honest signature verifies')
  t.equal(signer.verify(publicKey, message, flip(signature, 0), context), false, 'first signature byte flipped')
  t.equal(signer.verify(publicKey, message, flip(signature, signature.length - 1), context), false, 'last signature byte flipped')
  t.equal(signer.verify(publicKey, message, signature.subarray(1), context), false, 'truncated signature')
  t.equal(signer.verify(publicKey, message, new Uint8Array(0), context), false, 'empty signature')
  t.equal(signer.verify(publicKey, flip(message, 3), signature, context), false, 'other message')
  t.equal(signer.verify(publicKey, message, signature, utf8Encode('zixt/other/v1')), false, 'other context')
  t.equal(signer.verify(publicKey, message, signature), false, 'context omitted')
  t.equal(signer.verify(flip(publicKey, 5), message, signature, context), false, 'other public key')
  t.throws(() => signer.verify(publicKey.subarray(0, 10), message, signature, context), {
    code: ErrorCode.invalidLength,
    message: `publicKey: expected ${signer.publicKeyBytes} bytes, got 10`,
  })
  t.throws(() => signer.verify(asBytes('pk'), message, signature), notBytes('publicKey'))
  t.throws(() => signer.verify(publicKey, asBytes(null), signature), notBytes('message'))
  t.throws(() => signer.verify(publicKey, message, asBytes([1, 2])), notBytes('signature'))
  t.throws(() => signer.verify(publicKey, message, signature, new Uint8Array(256)), length('context'))
  t.throws(() => signer.sign(secretKey.subarray(1), message), length('secretKey'))
  t.throws(() => signer.sign(secretKey, asBytes('text'), context), notBytes('message'))
  t.throws(() => signer.sign(secretKey, message, new Uint8Array(256)), length('context'))
  t.throws(() => signer.sign(secretKey, message, asBytes('ctx')), notBytes('context'))
  t.throws(() => signer.keygen(new Uint8Array(signer.seedBytes + 1)), length('seed'))
}

for (const crypto of backends) {
  t.test(`${crypto.backend}: ML-DSA-65 and ML-DSA-87`, async (t) => {
    for (const signer of [crypto.mlDsa65, crypto.mlDsa87]) {
      const keys = signer.keygen()
      t.test(signer.name, async (t) => signerCases(t, signer, keys, signer.sign(keys.secretKey, message, context)))
    }
  })

  t.test(`${crypto.backend}: ML-KEM-1024`, async (t) => {
    const kem = crypto.mlKem1024
    const { publicKey, secretKey } = kem.keygen()
    const { cipherText } = kem.encapsulate(publicKey)
    t.throws(() => kem.encapsulate(publicKey.subarray(0, 1567)), { code: ErrorCode.invalidLength, message: 'publicKey: expected 1568 bytes, got 1567' })
    t.throws(() => kem.encapsulate(asBytes(undefined)), notBytes('publicKey'))
    t.throws(() => kem.decapsulate(cipherText.subarray(0, 1000), secretKey), length('cipherText'))
    t.throws(() => kem.decapsulate(new Uint8Array(1569), secretKey), length('cipherText'))
    t.throws(() => kem.decapsulate(cipherText, secretKey.subarray(0, 32)), length('secretKey'))
    t.throws(() => kem.decapsulate(asBytes('c'), secretKey), notBytes('cipherText'))
    t.throws(() => kem.keygen(new Uint8Array(32)), length('seed'))
    const all255 = new Uint8Array(1568).fill(0xff) // every coefficient 4095 ≥ q
    t.throws(() => kem.encapsulate(all255), invalid('publicKey'), 'unreduced coefficients (FIPS 203 §7.2)')
  })

  t.test(`${crypto.backend}: AES-256-GCM`, async (t) => {
    const gcm = crypto.aes256gcm
    const key = crypto.randomBytes(32)
    const nonce = crypto.randomBytes(12)
    const aad = utf8Encode('attachment 7')
    const sealed = gcm.encrypt(key, nonce, message, aad)
    t.equal(sealed.length, message.length + 16)
    t.same(gcm.decrypt(key, nonce, sealed, aad), message)
    const failed = { code: ErrorCode.decryptFailed, message: /^sealed: authentication failed/ }
    t.throws(() => gcm.decrypt(key, nonce, flip(sealed, sealed.length - 1), aad), failed, 'tag byte flipped')
    t.throws(() => gcm.decrypt(key, nonce, flip(sealed, 0), aad), failed, 'ciphertext byte flipped')
    t.throws(() => gcm.decrypt(key, nonce, sealed.subarray(1), aad), failed, 'first byte cut')
    t.throws(() => gcm.decrypt(key, nonce, sealed, utf8Encode('attachment 8')), failed, 'other associated data')
    t.throws(() => gcm.decrypt(key, nonce, sealed), failed, 'associated data omitted')
    t.throws(() => gcm.decrypt(flip(key, 0), nonce, sealed, aad), failed, 'other key')
    t.throws(() => gcm.decrypt(key, flip(nonce, 0), sealed, aad), failed, 'other nonce')
    t.throws(() => gcm.decrypt(key, nonce, sealed.subarray(0, 15), aad), { code: ErrorCode.invalidLength, message: 'sealed: expected at least 16 bytes (the tag), got 15' })
    t.throws(() => gcm.decrypt(key.subarray(0, 16), nonce, sealed), { code: ErrorCode.invalidLength, message: 'key: expected 32 bytes, got 16' })
    t.throws(() => gcm.encrypt(key, new Uint8Array(16), message), length('nonce'))
    t.throws(() => gcm.encrypt(key, nonce, asBytes('plaintext')), notBytes('plaintext'))
    t.throws(() => gcm.encrypt(key, nonce, message, asBytes(7)), notBytes('aad'))
    t.same(gcm.decrypt(key, nonce, gcm.encrypt(key, nonce, new Uint8Array(0))), new Uint8Array(0), 'empty plaintext')
  })

  t.test(`${crypto.backend}: hashes, HMAC, HKDF, scrypt, randomBytes`, async (t) => {
    t.throws(() => crypto.sha3_256(asBytes('abc')), notBytes('data'))
    t.throws(() => crypto.hmac('md5' as 'sha1', message, message), invalid('hash'))
    t.throws(() => crypto.hmac('sha256', asBytes('key'), message), notBytes('key'))
    t.throws(() => crypto.hkdf('sha1' as 'sha256', message, message, message, 32), invalid('hash'))
    t.throws(() => crypto.hkdfSha3_256(message, message, message, 0), invalid('length'))
    t.throws(() => crypto.hkdfSha3_256(message, message, message, 255 * 32 + 1), invalid('length'))
    t.throws(() => crypto.hkdfSha3_256(message, message, new Uint8Array(1025), 32), length('info'))
    t.throws(() => crypto.hkdfSha3_256(asBytes('ikm'), message, message, 32), notBytes('ikm'))
    const scrypt = (params: object) => crypto.scrypt(message, message, params as { N: number; r: number; p: number; dkLen: number })
    await t.rejects(scrypt({ N: 1000, r: 8, p: 1, dkLen: 32 }), invalid('params.N'))
    await t.rejects(scrypt({ N: 1024, r: 0, p: 1, dkLen: 32 }), invalid('params.r'))
    await t.rejects(scrypt({ N: 1024, r: 8, p: 1, dkLen: 0 }), invalid('params.dkLen'))
    await t.rejects(scrypt({ N: 2 ** 20, r: 16, p: 1, dkLen: 32 }), { code: ErrorCode.limitExceeded, message: /^params: scrypt would need/ })
    await t.rejects(crypto.scrypt(asBytes('pw'), message, { N: 16, r: 1, p: 1, dkLen: 32 }), notBytes('password'))
    t.throws(() => crypto.randomBytes(-1), invalid('length'))
    t.throws(() => crypto.randomBytes(1.5), invalid('length'))
  })

  t.test(`${crypto.backend}: outputs are plain Uint8Arrays (same type from both backends)`, async (t) => {
    const plain = (bytes: Uint8Array) => Object.getPrototypeOf(bytes) === Uint8Array.prototype
    const keys = crypto.mlDsa65.keygen()
    const { cipherText, sharedSecret } = crypto.mlKem1024.encapsulate(crypto.mlKem1024.keygen().publicKey)
    const outputs = [
      keys.publicKey, keys.secretKey, crypto.mlDsa65.sign(keys.secretKey, message), cipherText, sharedSecret,
      crypto.sha3_256(message), crypto.hmac('sha1', message, message), crypto.hkdfSha3_256(message, message, message, 8),
      crypto.aes256gcm.encrypt(new Uint8Array(32), new Uint8Array(12), message), crypto.randomBytes(4),
      await crypto.scrypt(message, message, { N: 16, r: 1, p: 1, dkLen: 8 }),
    ]
    outputs.forEach((bytes, i) => t.ok(plain(bytes), `output ${i}`))
  })
}

t.test('SLH-DSA-SHAKE-256f, one signature per backend', async (t) => {
  for (const crypto of backends) {
    const signer = crypto.slhDsaShake256f
    const keys = backends[0]!.slhDsaShake256f.keygen()
    // JS signing takes seconds: sign natively, and check the noble backend's verify paths on it.
    const signature = backends[0]!.slhDsaShake256f.sign(keys.secretKey, message, context)
    t.test(`${crypto.backend}`, async (t) => signerCases(t, signer, keys, signature))
  }
})

t.test('SLH-DSA refuses to sign with an inconsistent secret key (verify-after-sign)', async (t) => {
  // Native only: the check is shared code (check.ts checkOwnSignature), and a JS signature costs seconds.
  const signer = backends[0]!.slhDsaShake256f
  const { secretKey } = signer.keygen()
  const inconsistent = { code: ErrorCode.invalidArgument, message: /^secretKey: the signature does not verify/ }
  t.throws(() => signer.sign(flip(secretKey, 127), message), inconsistent, 'PK.root altered (OpenSSL imports it silently)')
  t.throws(() => signer.sign(flip(secretKey, 0), message), inconsistent, 'SK.seed altered')
})

t.test('the errors are CryptoError with details naming the argument', async (t) => {
  const facade: CryptoFacade = backends[1]!
  const err = (() => { try { facade.mlDsa65.verify(new Uint8Array(3), message, message) } catch (e) { return e } })()
  t.ok(err instanceof CryptoError)
  t.same((err as CryptoError).details, { argument: 'publicKey', expected: 1952, actual: 3 })
})
