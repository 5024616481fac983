// A rebuild that crashed between its RENAME TABLE and its DROP TABLE left `<table>__old`
// copies behind: the next rebuild must still swap (not fail at the RENAME for good).
import t from 'tap'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { checkpointTable } from './projection.ts'
import { rebuild } from './rebuild.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { project, rows } from './testing/given.ts'
import { createTestDb, tableDigest } from './testing/testDb.ts'

const db = await createTestDb()
t.teardown(() => db.drop())

t.test('a rebuild succeeds over the __old tables an interrupted rebuild left', async (t) => {
  const events = chatWorkload(600, { users: 8, threads: 4, seed: 5 })
  const conn = await project(db, events)
  t.teardown(() => conn.end())
  const tables = mysqlProjections.flatMap((p) => p.tables)
  const before = await tableDigest(conn, tables)
  // what the crash left: the previous generation of some tables, renamed away and not dropped
  const left = [mysqlProjections[1]!.tables[0]!, checkpointTable(mysqlProjections[1]!.name), mysqlProjections[0]!.tables[0]!]
  for (const table of left) await conn.query(`CREATE TABLE \`${table}__old\` LIKE \`${table}\``)
  const r = await rebuild({ source: new ArrayEventSource([...events]), connect: db.connect, projections: mysqlProjections })
  t.equal(r.events, events.length, 'every event replayed')
  t.same(await tableDigest(conn, tables), before, 'the swapped-in tables equal the live ones')
  const old = await rows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '%\\_\\_old'`)
  t.equal(Number(old[0]!.n), 0, 'no __old table is left')
  const [cp] = await rows<{ position: number }>(conn, `SELECT position FROM \`${checkpointTable('conversations')}\``)
  t.equal(Number(cp!.position), events.length - 1, 'the swapped-in checkpoint is at the last event')
})
