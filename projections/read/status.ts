import { type Db, select } from './db.ts'

/** Checkpoint (last applied position) of each projection. */
export async function projectionPositions(db: Db): Promise<Record<string, number>> {
  const rows = await select<{ name: string; position: number }>(db,
    `SELECT 'accounts' AS name, position FROM checkpoint_accounts UNION ALL SELECT 'conversations', position FROM checkpoint_conversations
     UNION ALL SELECT 'keyPackages', position FROM checkpoint_key_packages`, [])
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.position)]))
}
