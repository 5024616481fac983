// Versioned SQL migrations, applied in file-name order at start-up. Each applied file is
// recorded with its SHA3-256: an applied file that changed is refused, never re-run.
//
// MariaDB commits implicitly around every DDL statement, so a file cannot run in one
// transaction. Instead progress is recorded per statement (schema_migration_steps) and
// every statement is safe to repeat after a crash between it and its record:
// - DML (INSERT/UPDATE/DELETE/REPLACE) runs in one transaction with its step record: exactly once;
// - CREATE TABLE runs as CREATE TABLE IF NOT EXISTS;
// - any other DDL must say IF [NOT] EXISTS itself (MariaDB has it for ADD/DROP COLUMN,
//   CREATE/DROP INDEX, DROP TABLE …); a file without it is refused before anything runs.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Connection } from 'mysql2/promise'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { toHex } from '../domain/encoding.ts'

export const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url))

export type Migration = { readonly version: number; readonly name: string; readonly sql: string; readonly checksum: string }

export class MigrationError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export function loadMigrations(dir = migrationsDir): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()
  return files.map((name) => {
    const m = /^(\d{4})_[a-z0-9_]+\.sql$/.exec(name)
    if (m === null) throw new MigrationError('ZIXT_ERR_MIGRATION_NAME', `migration file '${name}' must be named NNNN_snake_case.sql`)
    const sql = readFileSync(join(dir, name), 'utf8')
    return { version: Number(m[1]), name, sql, checksum: toHex(nativeCrypto.sha3_256(new TextEncoder().encode(sql))) }
  })
}

const DML = /^(INSERT|UPDATE|DELETE|REPLACE)\b/i
const CREATE_TABLE = /^CREATE\s+TABLE\s+(?!IF\s+NOT\s+EXISTS\b)/i

/** The statement as run: idempotent, or null when it is DDL that cannot be repeated safely. */
export function repeatable(statement: string): { sql: string; dml: boolean } | null {
  if (DML.test(statement)) return { sql: statement, dml: true }
  if (CREATE_TABLE.test(statement)) return { sql: statement.replace(/^CREATE\s+TABLE\s+/i, 'CREATE TABLE IF NOT EXISTS '), dml: false }
  if (/\bIF\s+(NOT\s+)?EXISTS\b/i.test(statement) || /^(SET|DO|SELECT)\b/i.test(statement)) return { sql: statement, dml: false }
  return null
}

/** Statements of a file: `--` comments dropped, split at `;` ending a line. */
export function statements(sql: string): string[] {
  return sql.split('\n').map((l) => l.replace(/--.*$/, '')).join('\n').split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter((s) => s !== '')
}

/** Applies the pending migrations; returns the names applied. Serialised by a named lock. */
export async function migrate(conn: Connection, dir = migrationsDir): Promise<string[]> {
  const migrations = loadMigrations(dir)
  for (const m of migrations) {
    for (const st of statements(m.sql)) {
      if (repeatable(st) === null) throw new MigrationError('ZIXT_ERR_MIGRATION_NOT_REPEATABLE', `migration ${m.name}: '${st.slice(0, 60)}…' is DDL without IF [NOT] EXISTS (it must be safe to repeat after a crash)`)
    }
  }
  await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, checksum CHAR(64) NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`)
  await conn.query(`CREATE TABLE IF NOT EXISTS schema_migration_steps (
    version INT NOT NULL, step INT NOT NULL, checksum CHAR(64) NOT NULL, PRIMARY KEY (version, step)) ENGINE=InnoDB`)
  const [lock] = await conn.query('SELECT GET_LOCK(CONCAT(DATABASE(), \'/migrate\'), 60) AS ok') as unknown as [{ ok: number }[]]
  if (lock[0]?.ok !== 1) throw new MigrationError('ZIXT_ERR_MIGRATION_LOCK', 'migrate: another process holds the migration lock for 60 s')
  try {
    const [rows] = await conn.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version') as unknown as [{ version: number; name: string; checksum: string }[]]
    const applied = new Map(rows.map((r) => [r.version, r]))
    const done: string[] = []
    for (const m of migrations) {
      const a = applied.get(m.version)
      if (a !== undefined) {
        if (a.checksum !== m.checksum || a.name !== m.name) {
          throw new MigrationError('ZIXT_ERR_MIGRATION_CHANGED', `migration ${m.name} changed after it was applied (checksum ${a.checksum.slice(0, 12)}… recorded, ${m.checksum.slice(0, 12)}… on disk): add a new migration instead`)
        }
        continue
      }
      await applySteps(conn, m)
      await conn.beginTransaction()
      await conn.query('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [m.version, m.name, m.checksum])
      await conn.query('DELETE FROM schema_migration_steps WHERE version = ?', [m.version])
      await conn.commit()
      done.push(m.name)
    }
    return done
  } finally {
    await conn.query('DO RELEASE_LOCK(CONCAT(DATABASE(), \'/migrate\'))')
  }
}

/** Runs the statements of `m` not yet recorded in schema_migration_steps, recording each. */
async function applySteps(conn: Connection, m: Migration): Promise<void> {
  const [rows] = await conn.query('SELECT step, checksum FROM schema_migration_steps WHERE version = ?', [m.version]) as unknown as [{ step: number; checksum: string }[]]
  const recorded = new Map(rows.map((r) => [Number(r.step), r.checksum]))
  const list = statements(m.sql)
  for (let i = 0; i < list.length; i++) {
    const checksum = toHex(nativeCrypto.sha3_256(new TextEncoder().encode(list[i]!)))
    const seen = recorded.get(i)
    if (seen !== undefined) {
      if (seen !== checksum) throw new MigrationError('ZIXT_ERR_MIGRATION_CHANGED', `migration ${m.name} statement ${i + 1} changed while the migration was half applied`)
      continue
    }
    const st = repeatable(list[i]!)!
    const record = (): Promise<unknown> => conn.query('INSERT INTO schema_migration_steps (version, step, checksum) VALUES (?, ?, ?)', [m.version, i, checksum])
    if (st.dml) {
      await conn.beginTransaction()
      try {
        await conn.query(st.sql)
        await record()
        await conn.commit()
      } catch (e) {
        await conn.rollback().catch(() => {})
        throw e
      }
    } else {
      await conn.query(st.sql) // commits implicitly; repeating it after a crash here is harmless
      await record()
    }
  }
}
