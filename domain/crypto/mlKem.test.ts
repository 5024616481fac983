// ML-KEM-1024 against NIST ACVP and Wycheproof, for both backends.
// The facade's secret key is the 64-byte seed d||z (FIPS 203 §6.1). ACVP's encapsulation
// (ek, m → c, K) and decapsulation (expanded dk, c → K) sets need a caller-chosen m or an
// expanded dk, which the facade does not take by design; decapsulation, including implicit
// rejection, is covered by Wycheproof's seed-based set and by an independent J(z||c) check.
import t from 'tap'
import { shake256 } from '@noble/hashes/sha3.js'
import { concatBytes } from '../encoding.ts'
import { CryptoError, ErrorCode } from '../errors.ts'
import { backends, hex, loadVectors, type AcvpFile, type WycheproofFile } from './testVectors.ts'

type KeyGenTest = { d: string; z: string; ek: string; dk: string }
type EncapDecapTest = { ek: string; dk: string; c?: string; k?: string; testPassed?: boolean; reason?: string }
const acvpKeyGen = loadVectors<AcvpFile<{ parameterSet: string }, KeyGenTest>>('acvp-ml-kem-1024-keygen.json')
const acvpEncapDecap = loadVectors<AcvpFile<{ function: string }, EncapDecapTest>>('acvp-ml-kem-1024-encapdecap.json')
const wpSeed = loadVectors<WycheproofFile<{}, { seed: string; ek: string }>>('wycheproof/mlkem_1024_keygen_seed_test.json')
const wpDecaps = loadVectors<WycheproofFile<{}, { seed: string; c: string; K: string }>>('wycheproof/mlkem_1024_test.json')
const wpEncaps = loadVectors<WycheproofFile<{}, { ek: string }>>('wycheproof/mlkem_1024_encaps_test.json')

for (const crypto of backends) {
  const kem = crypto.mlKem1024
  t.test(`${crypto.backend}: ACVP keyGen (d||z → ek)`, async (t) => {
    const [group] = acvpKeyGen.testGroups
    t.equal(group?.parameterSet, 'ML-KEM-1024')
    for (const v of group!.tests) {
      const seed = concatBytes(hex(v.d), hex(v.z))
      const { publicKey, secretKey } = kem.keygen(seed)
      t.same(publicKey, hex(v.ek), `tcId ${v.tcId} ek`)
      t.same(secretKey, seed, `tcId ${v.tcId} secret key is the seed`)
    }
  })

  t.test(`${crypto.backend}: ACVP encapsulationKeyCheck (FIPS 203 §7.2)`, async (t) => {
    const group = acvpEncapDecap.testGroups.find((g) => g.function === 'encapsulationKeyCheck')!
    t.equal(group.tests.length, 10)
    for (const v of group.tests) {
      if (v.testPassed) {
        t.equal(kem.encapsulate(hex(v.ek)).cipherText.length, 1568, `tcId ${v.tcId} accepted`)
      } else {
        t.throws(() => kem.encapsulate(hex(v.ek)), { code: ErrorCode.invalidArgument, message: /^publicKey:/ }, `tcId ${v.tcId} ${v.reason}`)
      }
    }
  })

  t.test(`${crypto.backend}: Wycheproof keygen from seed`, async (t) => {
    for (const v of wpSeed.testGroups.flatMap((g) => g.tests)) {
      t.same(kem.keygen(hex(v.seed)).publicKey, hex(v.ek), `tcId ${v.tcId}`)
    }
  })

  t.test(`${crypto.backend}: Wycheproof decapsulation incl. implicit rejection`, async (t) => {
    let rejections = 0
    for (const v of wpDecaps.testGroups.flatMap((g) => g.tests)) {
      const run = () => kem.decapsulate(hex(v.c), hex(v.seed))
      if (v.result === 'valid') {
        t.same(run(), hex(v.K), `tcId ${v.tcId} ${v.comment ?? ''}`)
        if (/ciphertext/i.test(v.comment ?? '')) rejections++
      } else {
        const argument = v.comment?.startsWith('Private key') ? 'secretKey' : 'cipherText'
        t.throws(run, { code: ErrorCode.invalidLength, message: new RegExp(`^${argument}: expected`) }, `tcId ${v.tcId} ${v.comment}`)
      }
    }
    t.ok(rejections >= 20, 'the set exercises modified and random ciphertexts')
  })

  t.test(`${crypto.backend}: Wycheproof encapsulation refuses invalid keys`, async (t) => {
    for (const v of wpEncaps.testGroups.flatMap((g) => g.tests)) {
      const run = () => kem.encapsulate(hex(v.ek))
      if (v.result === 'valid') {
        const { cipherText, sharedSecret } = run()
        t.ok(cipherText.length === 1568 && sharedSecret.length === 32, `tcId ${v.tcId}`)
      } else {
        const code = hex(v.ek).length === 1568 ? ErrorCode.invalidArgument : ErrorCode.invalidLength
        t.throws(run, { code, message: /^publicKey:/ }, `tcId ${v.tcId} ${v.comment ?? v.flags.join(',')}`)
      }
    }
  })

  t.test(`${crypto.backend}: a modified ciphertext yields J(z||c), not an error (FIPS 203 Alg. 18 step 7)`, async (t) => {
    const seed = crypto.randomBytes(64)
    const { publicKey, secretKey } = kem.keygen(seed)
    const { cipherText, sharedSecret } = kem.encapsulate(publicKey)
    t.same(kem.decapsulate(cipherText, secretKey), sharedSecret, 'honest round trip')
    for (const index of [0, 700, 1567]) {
      const modified = Uint8Array.from(cipherText)
      modified[index]! ^= 0x01
      const expected = shake256(concatBytes(seed.subarray(32), modified), { dkLen: 32 })
      const got = kem.decapsulate(modified, secretKey)
      t.same(got, expected, `byte ${index} flipped: implicit-rejection key`)
      t.notSame(got, sharedSecret)
    }
  })
}

t.test('errors are CryptoError instances', async (t) => {
  for (const crypto of backends) {
    const err = (() => { try { crypto.mlKem1024.decapsulate(new Uint8Array(10), new Uint8Array(64)) } catch (e) { return e } })()
    t.ok(err instanceof CryptoError, crypto.backend)
    t.equal((err as Error).message, 'cipherText: expected 1568 bytes, got 10')
  }
})
