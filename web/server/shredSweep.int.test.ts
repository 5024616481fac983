// Crypto-shredding follows the ledger, not the HTTP request: an AccountDeleted that reached
// consensus without the route's afterCommit (a wait that threw, a dead web process, a
// retransmission another node answered) still destroys the user's data key, by the web's
// sweep over the read model (Ctx.sweepShredded). Whole stack: cluster, MariaDB, Redis, web.
import t from 'tap'
import { mysqlPool } from '../../projections/db.ts'
import { buildCommand } from '../client/core/api/commands.ts'
import type { Ctx } from './context.ts'
import { decryptEmail } from './secrets.ts'
import { WebStore } from './store.ts'
import { crypto, startWebStack, waitFor, type WebStack } from './fuzz/stack.ts'

t.setTimeout(120_000)
const logs: string[] = []
let s: WebStack
let store: WebStore
t.before(async () => {
  s = await startWebStack({ tag: 'shred', log: (l) => logs.push(l) })
  store = new WebStore(mysqlPool(`mysql://root@127.0.0.1:3306/${s.dbName}`, 2))
})
t.teardown(async () => {
  await store?.db.end().catch(() => {})
  await s?.stop()
})

t.test('a DeleteAccount committed past the web route still shreds the data key; others keep theirs', async (t) => {
  const alice = await s.register('alice')
  const bob = await s.register('bob')
  const aliceKey = await store.dataKey(alice.userId)
  t.ok(aliceKey !== null && (await store.verifier(alice.userId)) !== null, 'Alice has a data key and a password verifier')
  const aliceRow = await s.sys.read.userById(alice.userId)
  t.equal(decryptEmail(aliceKey!, aliceRow!.encryptedEmail!, crypto), 'alice@example.org', 'her key opens the e-mail ciphertext the ledger holds')

  // straight into ingest → consensus: no HTTP route, so no afterCommit
  const result = await s.sys.ingest.submit(buildCommand('DeleteAccount', {}, alice.keys, Date.now(), crypto))
  t.equal(result.kind, 'committed', 'the deletion is final in the ledger')
  const deleted = result.kind === 'committed' ? result.events.find((e) => e.type === 'AccountDeleted') : undefined
  t.ok(deleted !== undefined, 'as AccountDeleted')
  await waitFor('the projections at the deletion', async () => (await s.sys.read.position()) >= deleted!.position)
  t.equal((await s.sys.read.userById(alice.userId))?.deleted, true, 'the read model shows Alice deleted')

  const since = Date.now()
  await waitFor("Alice's data key shredded", async () => (await store.dataKey(alice.userId)) === null, 10_000)
  t.ok(Date.now() - since < 10_000, `shredded within ${Date.now() - since} ms of the projections showing the deletion`)
  t.equal(await store.verifier(alice.userId), null, 'her password verifier went with it')
  t.ok((await store.dataKey(bob.userId)) !== null, 'Bob, not deleted, keeps his data key')
  t.ok((await store.verifier(bob.userId)) !== null, 'and his password verifier')

  const line = logs.filter((l) => l.startsWith('shred:') && l.includes(alice.userId))
  t.equal(line.length, 1, 'one log line names the shredded user')
  t.notOk(logs.some((l) => l.startsWith('shred:') && (l.includes('@') || l.includes(Buffer.from(aliceKey!).toString('base64')) || l.includes(Buffer.from(aliceKey!).toString('hex')))),
    'no e-mail and no key in the sweep log')

  // the checkpoint moved past Alice: a further sweep looks at nothing and logs nothing
  t.same(await store.shredCheckpoint(), { position: (await s.sys.read.userById(alice.userId))!.position, userId: alice.userId }, 'the checkpoint stands at Alice')
  const ctx = (s.sys.apps[0] as unknown as { hub: { ctx: Ctx } }).hub.ctx
  const before = logs.length
  t.same(await ctx.sweepShredded(), [], 'a second sweep shreds nothing')
  t.equal(logs.length, before, 'and logs nothing')
  t.ok((await store.dataKey(bob.userId)) !== null, 'Bob still has his data key')
})
