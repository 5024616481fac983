// Read models pointed at another ledger: the runner refuses to apply it (checkpoints keep
// the hash of the last event applied), and says so, instead of mixing two ledgers' events.
import t from 'tap'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { ProjectionRunner } from './runner.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { createTestDb, tableDigest } from './testing/testDb.ts'
import { runInBackground } from './testing/background.ts'

const db = await createTestDb()
t.teardown(() => db.drop())
const tables = mysqlProjections.flatMap((p) => p.tables)

/** Runs a runner over `events` until it has applied `until` or reported an error; its status. */
async function runOver(events: readonly EventEnvelope[], until: number): Promise<{ position: number; lastError: string | null }> {
  const runner = new ProjectionRunner({ source: new ArrayEventSource([...events]), connect: db.connect, projections: mysqlProjections, batchEvents: 200, backoffMs: { min: 50, max: 50 } })
  const stop = runInBackground(runner, until)
  let status = await runner.status()
  for (let i = 0; i < 200 && status.lastError === null && status.position < until; i++) {
    await new Promise((r) => setTimeout(r, 25))
    status = await runner.status()
  }
  await stop()
  return { position: status.position, lastError: status.lastError }
}

const ledgerA = chatWorkload(900, { users: 8, threads: 4, seed: 3 })
const ledgerB = chatWorkload(900, { users: 8, threads: 4, seed: 4 })

t.test('a runner refuses another ledger, and one shorter than what was applied, and changes nothing', async (t) => {
  t.same(await runOver(ledgerA.slice(0, 600), 599), { position: 599, lastError: null }, 'ledger A applied up to 599')
  const conn = await db.connect()
  t.teardown(() => conn.end())
  const before = await tableDigest(conn, tables)

  const other = await runOver(ledgerB, 899)
  t.match(other.lastError, /^projection \w+: the ledger's event at position 599 is not the one it applied there: these read models were built from another ledger/, 'another ledger, longer: refused')
  t.same(await tableDigest(conn, tables), before, 'nothing of ledger B applied')

  const shorter = await runOver(ledgerA.slice(0, 400), 899)
  t.match(shorter.lastError, /^projection \w+ applied events up to position 599 but the ledger holds 400: /, 'a ledger shorter than the checkpoints: refused, not idle at lag 0')
  t.same(await tableDigest(conn, tables), before)

  t.same(await runOver(ledgerA, 899), { position: 899, lastError: null }, 'ledger A again, grown: carries on')
})

t.test('checkpoints written before event hashes were kept are trusted as before', async (t) => {
  const conn = await db.connect()
  t.teardown(() => conn.end())
  for (const p of ['accounts', 'conversations', 'key_packages']) await conn.query(`UPDATE checkpoint_${p} SET event_hash = NULL`)
  const grown = [...ledgerA, ...chatWorkload(1000, { users: 8, threads: 4, seed: 3 }).slice(900)]
  t.same(await runOver(grown, 999), { position: 999, lastError: null })
  const [rows] = await conn.query('SELECT event_hash FROM checkpoint_accounts') as unknown as [{ event_hash: Buffer | null }[]]
  t.equal(rows[0]?.event_hash?.length, 32, 'the next batch writes the hash')
})
