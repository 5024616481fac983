// ChangeEmail sends a verification mail each time it commits: the same limits as a resend
// (≥ 60 s apart, 3 per hour per user), refused before consensus; and a mail that fails is
// logged without its address. Whole stack with a loopback SMTP server, as seedStory.int.test.ts.
import t, { type Test } from 'tap'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nativeCrypto as crypto } from '../../domain/crypto/native.ts'
import { toBase64url } from '../../domain/encoding.ts'
import { startSystem, type RunningSystem } from '../../ops/start.ts'
import { ApiClient, ApiError } from '../client/core/api/client.ts'
import { buildCommand, buildRegisterUser, newAccountKeys } from '../client/core/api/commands.ts'
import { defaultConfig } from './context.ts'
import { password, testPasswordCost } from './fuzz/stack.ts'
import { smtpMailer } from './mailer.ts'
import { bouncingSmtp } from './testing/bouncingSmtp.ts'
import { removeTestSystem } from '../../ops/testing/cli.ts'

t.setTimeout(240_000)
const name = `zixt_mail_${toBase64url(crypto.randomBytes(6)).replace(/[^a-zA-Z0-9]/g, 'x').toLowerCase()}`
const mysqlUrl = `mysql://root@127.0.0.1:3306/${name}`
const prefix = `${name}:`
const dataDir = mkdtempSync(join(tmpdir(), 'zixt-mail-'))
const bounce = 'bounce@example.org'
const logged: string[] = []
const smtp = await bouncingSmtp(bounce)
const smtpPort = smtp.port
const received = smtp.received // one recipient per delivered mail

let sys: RunningSystem
t.before(async () => {
  sys = await startSystem({
    dataDir, mysqlUrl, redisPrefix: prefix, port: 0, log: (l) => logged.push(l),
    mailer: smtpMailer(`smtp://127.0.0.1:${smtpPort}`, 'zixt@test'),
    config: { passwordCost: testPasswordCost, staticDir: null, rates: { ...defaultConfig.rates, resend: { limit: 3, windowS: 3600 } } },
  })
})
t.teardown(async () => {
  smtp.close()
  if (sys !== undefined) await removeTestSystem(sys, { mysqlUrl, redisPrefix: prefix, dataDir })
})

async function register(username: string) {
  const api = new ApiClient({ baseUrl: sys.urls[0]!, cookieJar: true })
  const keys = newAccountKeys(crypto, username)
  const { registrationId, encryptedEmail } = await api.registerBegin(`${username}@example.org`)
  await api.registerComplete({ registrationId, password, command: buildRegisterUser({ keys, username, encryptedEmail, now: Date.now(), crypto }) })
  await api.login({ username, password, keys, crypto })
  return { api, keys }
}
type User = Awaited<ReturnType<typeof register>>

/** ChangeEmail to `email`: 'ok', or the refusal's status and code; with the ciphertext it carried. */
async function changeEmail(u: User, email: string): Promise<{ outcome: string; encryptedEmail: string }> {
  const { encryptedEmail } = await u.api.encryptEmail(email)
  const outcome = await u.api.submit(buildCommand('ChangeEmail', { encryptedEmail }, u.keys, Date.now(), crypto)).then(
    () => 'ok', (e: unknown) => (e instanceof ApiError ? `${e.status} ${e.code}` : String(e)))
  return { outcome, encryptedEmail }
}

const inLedger = (text: string): boolean => {
  const dir = join(dataDir, 'replica-0', 'ledger')
  return readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(Buffer.from(text)))
}
const settle = () => new Promise((r) => setTimeout(r, 1500)) // a stray mail or block would have arrived
const to = (email: string) => received.filter((r) => r === email).length

t.test('ChangeEmail: at most one verification mail per 60 s', async (t: Test) => {
  const erin = await register('erin')
  const first = await changeEmail(erin, 'erin.1@example.org')
  const second = await changeEmail(erin, 'erin.2@example.org')
  t.same([first.outcome, second.outcome], ['ok', '429 ZIXT_ERR_RATE_LIMITED'], 'a second change right after the first is refused')
  await settle()
  t.same([to('erin.1@example.org'), to('erin.2@example.org')], [1, 0], 'only the first change was mailed')
  t.ok(inLedger(first.encryptedEmail), 'the accepted change is in the ledger')
  t.notOk(inLedger(second.encryptedEmail), 'the refused one left no trace there')
})

t.test('ChangeEmail: 5 changes (60 s apart) send at most 3 mails; the 4th is refused', async (t: Test) => {
  const fay = await register('fay')
  const tries: { outcome: string; encryptedEmail: string }[] = []
  for (let i = 1; i <= 5; i++) {
    await sys.redis.del(`${prefix}resend-gap:${fay.keys.userId}`) // as if 60 s had passed
    tries.push(await changeEmail(fay, `fay.${i}@example.org`))
  }
  t.same(tries.map((x) => x.outcome), ['ok', 'ok', 'ok', '429 ZIXT_ERR_RATE_LIMITED', '429 ZIXT_ERR_RATE_LIMITED'], 'the 4th and 5th changes within the hour are refused')
  await settle()
  const mails = received.filter((r) => r.startsWith('fay.'))
  t.ok(mails.length <= 3, `no more than 3 mails reached the SMTP server (${mails.length})`)
  t.same(mails.sort(), ['fay.1@example.org', 'fay.2@example.org', 'fay.3@example.org'], 'one for each accepted change')
  t.same(tries.map((x) => inLedger(x.encryptedEmail)), [true, true, true, false, false], 'refused changes are not in the ledger')
})

t.test('a verification mail the SMTP server refuses is logged without its address', async (t: Test) => {
  const gus = await register('gus')
  const before = logged.length
  t.equal((await changeEmail(gus, bounce)).outcome, 'ok', 'the change itself commits')
  const lines = logged.slice(before).filter((l) => l.startsWith('mail:'))
  t.equal(lines.length, 1, 'the failed send is logged')
  t.match(lines[0], /EENVELOPE 550/, 'with its error code and SMTP reply code')
  t.notOk(logged.slice(before).some((l) => l.includes(bounce)), 'the address is not in the log')
})
