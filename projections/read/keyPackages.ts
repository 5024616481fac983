import { type Db, select } from './db.ts'
import type { KeyPackageRow } from './types.ts'

export async function getKeyPackage(db: Db, deviceId: string, ref: string): Promise<KeyPackageRow | null> {
  return (await select<KeyPackageRow>(db, 'SELECT * FROM key_packages WHERE device_id = ? AND ref = ?', [deviceId, ref]))[0] ?? null
}

export async function countUnclaimedKeyPackages(db: Db, deviceId: string): Promise<number> {
  const [r] = await select<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM key_packages WHERE device_id = ? AND last_resort = 0 AND claimed_position IS NULL', [deviceId])
  return Number(r?.n ?? 0)
}
