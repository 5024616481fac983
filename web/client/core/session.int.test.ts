// The client core against the whole stack, in Node (no browser): MLS threads ordered by
// the ledger, live delivery, attachments, add and remove, names only members can read.
import t from 'tap'
import WebSocket from 'ws'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { ApiClient } from './api/client.ts'
import { buildRegisterUser, newAccountKeys } from './api/commands.ts'
import { directSlowOps } from './slowOps.ts'
import { Session } from './session.ts'
import { memoryKv } from './store/kv.ts'
import { openVault } from './store/vault.ts'
import { startStack, type Stack } from '../e2e/stack.ts'
import { readPdfSample } from '../e2e/samples.ts'

let stack: Stack
t.before(async () => {
  stack = await startStack()
})
t.teardown(async () => stack?.stop())

const password = 'correct horse battery staple'
const slow = directSlowOps(crypto, { N: 2 ** 10, r: 8, p: 1 })

async function user(username: string): Promise<Session> {
  const api = new ApiClient({ baseUrl: stack.url, cookieJar: true })
  const email = `${username}@example.org`
  const { registrationId, encryptedEmail } = await api.registerBegin(email)
  const keys = newAccountKeys(crypto, username)
  await api.registerComplete({ registrationId, password, command: buildRegisterUser({ keys, username, encryptedEmail, now: Date.now(), crypto }) })
  await fetch(await stack.verifyLink(email), { redirect: 'manual' })
  const info = await api.login({ username, password, keys, crypto })
  const keyFile = await slow.sealKeyFile({ keys, password, now: Date.now() })
  const { vault } = openVault(memoryKv(), crypto, { v: 1, username, userId: keys.userId, deviceId: keys.deviceId, keyFile, wrappedVaultKey: null }, keys)
  const s = await Session.open({
    api, crypto, vault, slow, keys, info, wsUrl: stack.url.replace('http', 'ws') + '/api/ws',
    openSocket: (url) => new WebSocket(url, { origin: stack.url }) as never,
  })
  await s.start()
  return s
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const texts = (s: Session, id: string) => (s.threads.get(id)?.messages ?? []).filter((m) => m.kind === 'text').map((m) => m.text)

t.test('thread lifecycle through the core', async (t) => {
  const started = Date.now()
  const [alice, bob, carol, dave] = (await Promise.all(['alice', 'bob', 'carol', 'dave'].map(user))) as [Session, Session, Session, Session]
  t.comment(`4 users registered in ${Date.now() - started} ms`)
  let at = Date.now()
  const id = await alice.createThread('Core Thread Name', ['bob', 'carol'])
  t.comment(`createThread (group, claim, commit+welcome, rename) ${Date.now() - at} ms`)
  for (const s of [bob, carol]) await until(`${s.info.username} joins and reads the name`, () => s.threads.get(id)?.name === 'Core Thread Name')
  t.pass('Bob and Carol joined from the Welcome and read the encrypted name')

  at = Date.now()
  await alice.sendText(id, 'first secret core message')
  for (const s of [bob, carol]) await until(`${s.info.username} gets message 1`, () => texts(s, id).includes('first secret core message'))
  t.comment(`message delivered to both in ${Date.now() - at} ms`)
  await bob.sendText(id, 'reply from bob')
  await until('alice gets the reply', () => texts(alice, id).includes('reply from bob'))
  t.same(texts(alice, id), ['first secret core message', 'reply from bob'], 'Alice sees both, in ledger order')

  const pdf = readPdfSample()
  await alice.sendFile(id, { bytes: pdf, name: 'plan.pdf', type: 'PDF' })
  const att = await until('bob gets the pdf', () => bob.threads.get(id)?.messages.find((m) => m.kind === 'attachment')?.attachment)
  const got = await bob.downloadAttachment(att)
  t.same(Buffer.from(got.bytes), Buffer.from(pdf), 'Bob decrypts the PDF byte-identical')

  at = Date.now()
  await alice.addMember(id, 'dave')
  t.comment(`addMember ${Date.now() - at} ms`)
  await until('dave joins', () => dave.threads.get(id)?.status === 'active' && dave.threads.get(id)?.name === 'Core Thread Name')
  await alice.sendText(id, 'welcome dave')
  await until('dave reads new messages', () => texts(dave, id).includes('welcome dave'))
  t.notOk(texts(dave, id).includes('first secret core message'), 'Dave does not get messages from before he joined')

  await alice.removeMember(id, carol.keys.userId)
  await until('carol sees she was removed', () => carol.threads.get(id)?.status === 'removed')
  await alice.sendText(id, 'after carol left')
  await until('dave reads it', () => texts(dave, id).includes('after carol left'))
  await until('bob reads it', () => texts(bob, id).includes('after carol left'))
  await carol.sync(id).catch(() => {})
  t.notOk(texts(carol, id).includes('after carol left'), 'Carol cannot read what was sent after her removal')
  t.ok(texts(carol, id).includes('first secret core message'), 'Carol keeps the history from before')

  await bob.hideThread(id)
  await bob.refreshThreads()
  t.equal(bob.threads.get(id)?.summary?.hidden, true, 'hidden for Bob')
  await alice.refreshThreads()
  t.equal(alice.threads.get(id)?.summary?.hidden, false, 'not for Alice')
  for (const s of [alice, bob, carol, dave]) s.close()
})
