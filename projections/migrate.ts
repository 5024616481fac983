// Versioned SQL migrations, applied in file-name order at start-up. Each applied file is
// recorded with its SHA3-256: an applied file that changed is refused, never re-run.
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

/** Statements of a file: `--` comments dropped, split at `;` ending a line. */
export function statements(sql: string): string[] {
  return sql.split('\n').map((l) => l.replace(/--.*$/, '')).join('\n').split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter((s) => s !== '')
}

/** Applies the pending migrations; returns the names applied. Serialised by a named lock. */
export async function migrate(conn: Connection, dir = migrationsDir): Promise<string[]> {
  const migrations = loadMigrations(dir)
  await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, checksum CHAR(64) NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`)
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
      for (const s of statements(m.sql)) await conn.query(s)
      await conn.query('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [m.version, m.name, m.checksum])
      done.push(m.name)
    }
    return done
  } finally {
    await conn.query('DO RELEASE_LOCK(CONCAT(DATABASE(), \'/migrate\'))')
  }
}
