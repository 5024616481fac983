import t from 'tap'
import { readFileSync } from 'node:fs'
import { nativeCrypto as crypto } from '../../domain/crypto/native.ts'
import { fromHex } from '../../domain/encoding.ts'
import { checkPassword, decryptEmail, encryptEmail, makeVerifier, matchTotp, totpAt } from './secrets.ts'

type Vectors = { keys: Record<string, { hex: string }>; tests: { timeSeconds: number; mode: string; totp: string }[] }
const v = JSON.parse(readFileSync('/work/shared/vectors/otp/rfc6238-totp.json', 'utf8')) as Vectors

t.test('RFC 6238 Appendix B vectors (8 digits, all three hashes)', async (t) => {
  t.ok(v.tests.length >= 18)
  for (const c of v.tests) {
    const hash = c.mode.toLowerCase() as 'sha1' | 'sha256' | 'sha512'
    t.equal(totpAt(fromHex(v.keys[c.mode]!.hex), c.timeSeconds * 1000, crypto, 8, hash), c.totp, `${c.mode} at ${c.timeSeconds}`)
  }
})

t.test('TOTP matching: ±1 step, each step once, wrong codes refused', async (t) => {
  const secret = crypto.randomBytes(20)
  const now = 1_760_000_000_000
  const code = totpAt(secret, now, crypto)
  const step = matchTotp(secret, code, now, 0, crypto)
  t.equal(step, Math.floor(now / 30_000))
  t.equal(matchTotp(secret, code, now, step!, crypto), null, 'a used step is refused')
  t.equal(matchTotp(secret, totpAt(secret, now - 30_000, crypto), now, 0, crypto), step! - 1, 'previous step accepted')
  t.equal(matchTotp(secret, totpAt(secret, now - 90_000, crypto), now, 0, crypto), null, 'three steps ago refused')
  t.equal(matchTotp(secret, 'abcdef', now, 0, crypto), null)
})

t.test('password verifier and e-mail encryption', async (t) => {
  const cost = { N: 2 ** 10, r: 8, p: 1 }
  const ver = await makeVerifier('correct horse battery', cost, crypto)
  t.ok(await checkPassword('correct horse battery', ver, cost, crypto))
  t.notOk(await checkPassword('correct horse batterY', ver, cost, crypto))
  t.notOk(await checkPassword('correct horse battery', null, cost, crypto), 'unknown user never matches')
  const key = crypto.randomBytes(32)
  const ct = encryptEmail(key, 'alice@example.org', crypto)
  t.equal(decryptEmail(key, ct, crypto), 'alice@example.org')
  t.throws(() => decryptEmail(crypto.randomBytes(32), ct, crypto), 'another key cannot read it (crypto-shredding)')
})
