// A private database (and Redis prefix) per test, dropped afterwards.
import { randomBytes } from 'node:crypto'
import type { Connection } from 'mysql2/promise'
import { connectMysql, dropDatabase } from '../db.ts'
import { migrate } from '../migrate.ts'

export type TestDb = { readonly url: string; readonly name: string; connect(): Promise<Connection>; drop(): Promise<void> }

export async function createTestDb(server = 'mysql://root@127.0.0.1:3306'): Promise<TestDb> {
  const name = 'zixt_test_' + randomBytes(6).toString('hex')
  const url = `${server}/${name}`
  const conn = await connectMysql(url)
  try {
    await migrate(conn)
  } finally {
    await conn.end()
  }
  return { url, name, connect: () => connectMysql(url), drop: () => dropDatabase(url) }
}

export function testRedisPrefix(): string {
  return 'zixt_test_' + randomBytes(6).toString('hex') + ':'
}

/** Order-independent digest of every row of the tables (what a user could observe). */
export async function tableDigest(conn: Connection, tables: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const t of tables) {
    const [rows] = await conn.query(`SELECT * FROM \`${t}\``) as unknown as [Record<string, unknown>[]]
    const lines = rows.map((r) => JSON.stringify(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))).sort()
    out[t] = `${rows.length}:` + (await import('node:crypto')).createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)
  }
  return out
}
