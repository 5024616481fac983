// ML-DSA-65/87 against NIST ACVP (keyGen, sigVer) and Wycheproof (ML-DSA-65 verify), both backends.
// The facade signs and verifies pure ML-DSA with a context (FIPS 204 Alg. 2/3), which is
// ACVP's "external / pure" interface. The "preHash" (HashML-DSA) and "internal" (M' given,
// or external μ) sigVer groups test interfaces the facade deliberately does not offer.
import t from 'tap'
import { ErrorCode } from '../errors.ts'
import { backends, hex, loadVectors, type AcvpFile, type WycheproofFile } from './testVectors.ts'

type KeyGen = AcvpFile<{ parameterSet: string }, { seed: string; pk: string }>
type SigVerGroup = { parameterSet: string; signatureInterface: string; preHash: string; externalMu: boolean }
type SigVerTest = { pk: string; message: string; context: string; signature: string; testPassed: boolean; reason: string }
type SigVer = AcvpFile<SigVerGroup, SigVerTest>
type WpVerify = WycheproofFile<{ publicKey: string }, { msg: string; sig: string; ctx?: string }>

const params = [
  { name: 'ML-DSA-65', key: 'mlDsa65', file: '65' },
  { name: 'ML-DSA-87', key: 'mlDsa87', file: '87' },
] as const

for (const crypto of backends) {
  for (const p of params) {
    const signer = crypto[p.key]
    t.test(`${crypto.backend} ${p.name}: ACVP keyGen (seed → pk)`, async (t) => {
      const file = loadVectors<KeyGen>(`acvp-ml-dsa-${p.file}-keygen.json`)
      const tests = file.testGroups.filter((g) => g.parameterSet === p.name).flatMap((g) => g.tests)
      t.equal(tests.length, 25)
      for (const v of tests) {
        const { publicKey, secretKey } = signer.keygen(hex(v.seed))
        t.same(publicKey, hex(v.pk), `tcId ${v.tcId}`)
        t.same(secretKey, hex(v.seed), `tcId ${v.tcId} secret key is the seed`)
      }
    })

    t.test(`${crypto.backend} ${p.name}: ACVP sigVer, external pure interface with context`, async (t) => {
      const file = loadVectors<SigVer>(`acvp-ml-dsa-${p.file}-sigver.json`)
      const groups = file.testGroups.filter((g) => g.signatureInterface === 'external' && g.preHash === 'pure')
      const tests = groups.flatMap((g) => g.tests)
      t.equal(tests.length, 15)
      t.ok(tests.some((v) => v.testPassed) && tests.some((v) => !v.testPassed), 'both outcomes present')
      for (const v of tests) {
        const ok = signer.verify(hex(v.pk), hex(v.message), hex(v.signature), hex(v.context))
        t.equal(ok, v.testPassed, `tcId ${v.tcId}: ${v.reason}`)
      }
    })
  }

  t.test(`${crypto.backend} ML-DSA-65: Wycheproof verify`, async (t) => {
    const file = loadVectors<WpVerify>('wycheproof/mldsa_65_verify_test.json')
    let count = 0
    for (const group of file.testGroups) {
      const publicKey = hex(group.publicKey)
      for (const v of group.tests) {
        count++
        const run = () => crypto.mlDsa65.verify(publicKey, hex(v.msg), hex(v.sig), v.ctx === undefined ? undefined : hex(v.ctx))
        const label = `tcId ${v.tcId} ${v.comment ?? ''} [${v.flags.join(',')}]`
        if (v.result === 'valid') t.equal(run(), true, label)
        else if (v.flags.includes('IncorrectPublicKeyLength')) {
          t.throws(run, { code: ErrorCode.invalidLength, message: /^publicKey: expected 1952 bytes/ }, label)
        } else if (v.flags.includes('InvalidContext')) {
          t.throws(run, { code: ErrorCode.invalidLength, message: /^context: expected at most 255 bytes/ }, label)
        } else t.equal(run(), false, label)
      }
    }
    t.equal(count, 210)
  })
}
