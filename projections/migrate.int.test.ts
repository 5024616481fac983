// Migrations against real MariaDB: applied once, resumed per statement after a crash inside
// a file (DDL auto-commits, so a file cannot be one transaction), DML never repeated, and
// DDL that could not be repeated safely refused before anything runs.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { connectMysql, dropDatabase } from './db.ts'
import { migrate, migrationsDir, statements } from './migrate.ts'

const dir = mkdtempSync(join(tmpdir(), 'zixt-migrate-'))
const url = `mysql://root@127.0.0.1:3306/zixt_test_migrate_${process.pid}`
const conn = await connectMysql(url)
t.teardown(async () => {
  await conn.end()
  await dropDatabase(url)
  rmSync(dir, { recursive: true, force: true })
})
const real = readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()
for (const f of real) copyFileSync(join(migrationsDir, f), join(dir, f))
// test migrations come after every real one
const m2 = `CREATE TABLE t_a (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO t_a (id) VALUES (1);
ALTER TABLE t_a ADD COLUMN IF NOT EXISTS c INT NULL;
`
writeFileSync(join(dir, '0091_test.sql'), m2)

t.test('a crash after a DDL statement ran but before it was recorded: resumed, DML not repeated', async (t) => {
  t.same(await migrate(conn, migrationsDir), real)
  t.same(await migrate(conn, migrationsDir), [], 'applied once')
  // what a crash inside 0091 leaves: steps 0 and 1 done and recorded, step 2 done, unrecorded
  const st = statements(m2)
  await conn.query(st[0]!)
  await conn.query('INSERT INTO schema_migration_steps (version, step, checksum) VALUES (91, 0, ?)', [await stepChecksum(st[0]!)])
  await conn.query(st[1]!)
  await conn.query('INSERT INTO schema_migration_steps (version, step, checksum) VALUES (91, 1, ?)', [await stepChecksum(st[1]!)])
  await conn.query(st[2]!)
  t.same(await migrate(conn, dir), ['0091_test.sql'], 'the half-applied file completes')
  const [rows] = await conn.query('SELECT id, c FROM t_a') as unknown as [unknown[]]
  t.same(rows, [{ id: 1, c: null }], 'the INSERT ran exactly once; the repeated ALTER was harmless')
  const [steps] = await conn.query('SELECT COUNT(*) n FROM schema_migration_steps') as unknown as [{ n: number }[]]
  t.equal(Number(steps[0]!.n), 0, 'step records dropped once the file is recorded')
})

t.test('a crash right after CREATE TABLE (unrecorded) re-runs it as IF NOT EXISTS', async (t) => {
  writeFileSync(join(dir, '0093_more.sql'), 'CREATE TABLE t_b (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;\nINSERT INTO t_b (id) VALUES (7);\n')
  await conn.query('CREATE TABLE t_b (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB')
  t.same(await migrate(conn, dir), ['0093_more.sql'])
  const [rows] = await conn.query('SELECT id FROM t_b') as unknown as [unknown[]]
  t.same(rows, [{ id: 7 }])
})

t.test('DDL that cannot be repeated safely is refused before anything runs', async (t) => {
  writeFileSync(join(dir, '0094_bad.sql'), 'CREATE TABLE t_c (id INT NOT NULL PRIMARY KEY);\nALTER TABLE t_b ADD COLUMN d INT NULL;\n')
  await t.rejects(migrate(conn, dir), { code: 'ZIXT_ERR_MIGRATION_NOT_REPEATABLE' })
  const [rows] = await conn.query("SHOW TABLES LIKE 't_c'") as unknown as [unknown[]]
  t.equal(rows.length, 0, 'not even the first statement ran')
})

async function stepChecksum(sql: string): Promise<string> {
  const { nativeCrypto } = await import('../domain/crypto/native.ts')
  const { toHex } = await import('../domain/encoding.ts')
  return toHex(nativeCrypto.sha3_256(new TextEncoder().encode(sql)))
}
