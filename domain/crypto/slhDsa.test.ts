// SLH-DSA-SHAKE-256f against NIST ACVP, both backends.
// keyGen (ACVP v1.1.0.43) goes through the facade. The sigVer set (ACVP v1.1.0.37, see
// ../shared/vectors/SOURCES.md) predates the context wrapper: its messages are M' for the
// internal slh_verify_internal (FIPS 205 Alg. 20), which neither node:crypto nor the facade
// expose (they take M and ctx and build M' = 0x00|||ctx|||ctx||M themselves, Alg. 24). So the
// set checks @noble/post-quantum's internal verify — the code the noble backend runs after
// building M' — and the test below ties the facade's wrapper to it: a facade signature over
// (M, ctx) verifies internally over the hand-built M'. Native signing/verification is tied to
// noble's by the cross-backend tests.
import t from 'tap'
import { slh_dsa_shake_256f } from '@noble/post-quantum/slh-dsa.js'
import { concatBytes, utf8Encode } from '../encoding.ts'
import { backends, hex, loadVectors, type AcvpFile } from './testVectors.ts'
import { nativeCrypto } from './native.ts'

type KeyGen = AcvpFile<{ parameterSet: string }, { skSeed: string; skPrf: string; pkSeed: string; sk: string; pk: string }>
type Prompt = AcvpFile<{ parameterSet: string }, { pk: string; message: string; signature: string }>
type Results = AcvpFile<{}, { testPassed: boolean }>

for (const crypto of backends) {
  t.test(`${crypto.backend}: ACVP keyGen (SK.seed||SK.prf||PK.seed → pk, sk)`, async (t) => {
    const file = loadVectors<KeyGen>('acvp-slh-dsa-shake-256f-keygen.json')
    const tests = file.testGroups.filter((g) => g.parameterSet === 'SLH-DSA-SHAKE-256f').flatMap((g) => g.tests)
    t.equal(tests.length, 10)
    for (const v of tests) {
      const { publicKey, secretKey } = crypto.slhDsaShake256f.keygen(concatBytes(hex(v.skSeed), hex(v.skPrf), hex(v.pkSeed)))
      t.same(publicKey, hex(v.pk), `tcId ${v.tcId} pk`)
      t.same(secretKey, hex(v.sk), `tcId ${v.tcId} sk`)
    }
  })
}

/** noble throws on a signature of the wrong length (the set has ±1 byte ones): a rejection. */
function internalVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return slh_dsa_shake_256f.internal.verify(signature, message, publicKey)
  } catch {
    return false
  }
}

t.test('ACVP sigVer through slh_verify_internal (FIPS 205 Alg. 20)', async (t) => {
  const prompt = loadVectors<Prompt>('acvp-slh-dsa-shake-256f-sigver.prompt.json')
  const results = loadVectors<Results>('acvp-slh-dsa-shake-256f-sigver.expectedResults.json')
  const expected = new Map(results.testGroups.flatMap((g) => g.tests).map((v) => [v.tcId, v.testPassed]))
  const tests = prompt.testGroups.filter((g) => g.parameterSet === 'SLH-DSA-SHAKE-256f').flatMap((g) => g.tests)
  t.equal(tests.length, 9)
  for (const v of tests) {
    const want = expected.get(v.tcId)
    t.type(want, 'boolean', `tcId ${v.tcId} has an expected result`)
    t.equal(internalVerify(hex(v.signature), hex(v.message), hex(v.pk)), want, `tcId ${v.tcId}`)
  }
})

t.test('a facade signature over (M, ctx) is an internal signature over 0x00||len(ctx)||ctx||M (FIPS 205 Alg. 22)', async (t) => {
  const { publicKey, secretKey } = nativeCrypto.slhDsaShake256f.keygen()
  const message = utf8Encode('tree head 42')
  const context = utf8Encode('zixt/tree-head/v1')
  const signature = nativeCrypto.slhDsaShake256f.sign(secretKey, message, context)
  const wrapped = concatBytes(Uint8Array.of(0, context.length), context, message)
  t.equal(slh_dsa_shake_256f.internal.verify(signature, wrapped, publicKey), true)
  t.equal(slh_dsa_shake_256f.internal.verify(signature, message, publicKey), false, 'not over the bare message')
})
