import { type Db, pageLimit, select } from './db.ts'
import type { DeviceKeyRow, DeviceRow, IdentityKeyRow, UserRow } from './types.ts'

export async function getUser(db: Db, userId: string): Promise<UserRow | null> {
  return (await select<UserRow>(db, 'SELECT * FROM users WHERE user_id = ?', [userId]))[0] ?? null
}

/** The live (not deleted) account with this username. */
export async function getUserByUsername(db: Db, username: string): Promise<UserRow | null> {
  return (await select<UserRow>(db, 'SELECT * FROM users WHERE username = ? AND deleted = 0 ORDER BY created_position DESC LIMIT 1', [username]))[0] ?? null
}

export async function listUsers(db: Db, o: { after?: string; limit: number }): Promise<UserRow[]> {
  return select<UserRow>(db, 'SELECT * FROM users WHERE user_id > ? ORDER BY user_id LIMIT ?', [o.after ?? '', pageLimit(o.limit)])
}

export async function listDevices(db: Db, userId: string): Promise<DeviceRow[]> {
  return select<DeviceRow>(db, 'SELECT * FROM devices WHERE user_id = ? ORDER BY added_position', [userId])
}

export async function getDevice(db: Db, deviceId: string): Promise<DeviceRow | null> {
  return (await select<DeviceRow>(db, 'SELECT * FROM devices WHERE device_id = ?', [deviceId]))[0] ?? null
}

export async function listDeviceKeys(db: Db, deviceId: string): Promise<DeviceKeyRow[]> {
  return select<DeviceKeyRow>(db, 'SELECT * FROM device_keys WHERE device_id = ? ORDER BY key_version', [deviceId])
}

export async function listIdentityKeys(db: Db, userId: string): Promise<IdentityKeyRow[]> {
  return select<IdentityKeyRow>(db, 'SELECT * FROM identity_keys WHERE user_id = ? ORDER BY key_version', [userId])
}
