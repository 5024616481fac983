// The web's own MySQL tables (web/server/migrations): password verifiers, per-user data
// keys (crypto-shredding), TOTP seeds, backup codes, uploaded blobs.
import { readdirSync, readFileSync } from 'node:fs'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { assert } from '../../domain/assert.ts'
import type { Verifier } from './secrets.ts'

type Row = RowDataPacket & Record<string, unknown>
/** A place in the read model's users, ordered by (position, userId): the shred sweep's keyset. */
export type ShredMark = { readonly position: number; readonly userId: string }

const migrationsDir = new URL('./migrations/', import.meta.url)

/** Applies web/server/migrations/*.sql in order, each once (table web_migrations). */
export async function migrateWeb(db: Pool): Promise<void> {
  await db.query('CREATE TABLE IF NOT EXISTS web_migrations (name VARCHAR(128) NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL) ENGINE=InnoDB')
  const [done] = await db.query<Row[]>('SELECT name FROM web_migrations')
  const applied = new Set(done.map((r) => r['name'] as string))
  for (const file of readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) {
    if (applied.has(file)) continue
    const sql = readFileSync(new URL(file, migrationsDir), 'utf8').replace(/^--.*$/gm, '')
    for (const stmt of sql.split(';').map((s) => s.trim()).filter((s) => s !== '')) await db.query(stmt)
    await db.query('INSERT IGNORE INTO web_migrations (name, applied_at) VALUES (?, ?)', [file, Date.now()])
  }
}

export class WebStore {
  readonly db: Pool
  constructor(db: Pool) {
    this.db = db
  }
  async #rows(sql: string, params: unknown[]): Promise<Row[]> {
    const [rows] = await this.db.query<Row[]>(sql, params)
    return rows
  }

  async setVerifier(userId: string, v: Verifier, now: number): Promise<void> {
    await this.db.query(
      `INSERT INTO web_accounts (user_id, password_salt, password_hash, scrypt_n, scrypt_r, scrypt_p, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE password_salt = VALUES(password_salt), password_hash = VALUES(password_hash), scrypt_n = VALUES(scrypt_n),
       scrypt_r = VALUES(scrypt_r), scrypt_p = VALUES(scrypt_p), updated_at = VALUES(updated_at)`,
      [userId, Buffer.from(v.salt), Buffer.from(v.hash), v.cost.N, v.cost.r, v.cost.p, now])
  }
  async verifier(userId: string): Promise<Verifier | null> {
    const r = (await this.#rows('SELECT * FROM web_accounts WHERE user_id = ?', [userId]))[0]
    if (r === undefined) return null
    return {
      salt: new Uint8Array(r['password_salt'] as Buffer), hash: new Uint8Array(r['password_hash'] as Buffer),
      cost: { N: Number(r['scrypt_n']), r: Number(r['scrypt_r']), p: Number(r['scrypt_p']) },
    }
  }
  async setDataKey(userId: string, key: Uint8Array, now: number): Promise<void> {
    await this.db.query('INSERT INTO web_user_keys (user_id, data_key, created_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE data_key = VALUES(data_key)', [userId, Buffer.from(key), now])
  }
  async dataKey(userId: string): Promise<Uint8Array | null> {
    const r = (await this.#rows('SELECT data_key FROM web_user_keys WHERE user_id = ?', [userId]))[0]
    return r === undefined ? null : new Uint8Array(r['data_key'] as Buffer)
  }
  /**
   * Account deleted: the data key goes (its e-mail ciphertext in the ledger becomes unreadable),
   * and every secret with it. Idempotent; true when something was still there to destroy.
   */
  async shred(userId: string): Promise<boolean> {
    let rows = 0
    for (const t of ['web_user_keys', 'web_accounts', 'web_totp', 'web_backup_codes']) {
      const [r] = await this.db.query(`DELETE FROM ${t} WHERE user_id = ?`, [userId])
      rows += (r as { affectedRows: number }).affectedRows
    }
    return rows > 0
  }
  /** The shred sweep's checkpoint: the last deleted account it shredded, in read-model (position, userId) order. */
  async shredCheckpoint(): Promise<ShredMark> {
    const r = (await this.#rows('SELECT position, user_id FROM web_shred_checkpoint WHERE id = 1', []))[0]
    assert(r !== undefined, 'web_shred_checkpoint: row 1 missing (migration 0002 inserts it)')
    return { position: Number(r['position']), userId: r['user_id'] as string }
  }
  /** Moves the checkpoint forward only: web processes sweeping side by side never move it back. */
  async advanceShredCheckpoint(to: ShredMark): Promise<void> {
    await this.db.query('UPDATE web_shred_checkpoint SET position = ?, user_id = ? WHERE id = 1 AND (position < ? OR (position = ? AND user_id < ?))',
      [to.position, to.userId, to.position, to.position, to.userId])
  }
  async setTotp(userId: string, sealed: Uint8Array): Promise<void> {
    await this.db.query('INSERT INTO web_totp (user_id, secret_sealed, last_step) VALUES (?, ?, 0) ON DUPLICATE KEY UPDATE secret_sealed = VALUES(secret_sealed), last_step = 0', [userId, Buffer.from(sealed)])
  }
  async totp(userId: string): Promise<{ sealed: Uint8Array; lastStep: number } | null> {
    const r = (await this.#rows('SELECT * FROM web_totp WHERE user_id = ?', [userId]))[0]
    return r === undefined ? null : { sealed: new Uint8Array(r['secret_sealed'] as Buffer), lastStep: Number(r['last_step']) }
  }
  /** Atomically moves last_step forward; false when the step was already used. */
  async useTotpStep(userId: string, step: number): Promise<boolean> {
    const [r] = await this.db.query('UPDATE web_totp SET last_step = ? WHERE user_id = ? AND last_step < ?', [step, userId, step])
    return (r as { affectedRows: number }).affectedRows === 1
  }
  async deleteTotp(userId: string): Promise<void> {
    await this.db.query('DELETE FROM web_totp WHERE user_id = ?', [userId])
  }
  async setBackupCodes(userId: string, hashes: readonly Uint8Array[]): Promise<void> {
    await this.db.query('DELETE FROM web_backup_codes WHERE user_id = ?', [userId])
    for (const h of hashes) await this.db.query('INSERT INTO web_backup_codes (user_id, code_hash) VALUES (?, ?)', [userId, Buffer.from(h)])
  }
  /** Uses a backup code once; false when unknown or already used. */
  async useBackupCode(userId: string, hash: Uint8Array, now: number): Promise<boolean> {
    const [r] = await this.db.query('UPDATE web_backup_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL', [now, userId, Buffer.from(hash)])
    return (r as { affectedRows: number }).affectedRows === 1
  }
  async addBlob(blobId: string, uploaderId: string, bytes: number, now: number): Promise<void> {
    await this.db.query('INSERT IGNORE INTO web_blobs (blob_id, uploader_id, bytes, created_at) VALUES (?, ?, ?, ?)', [blobId, uploaderId, bytes, now])
  }
  async blobUploader(blobId: string): Promise<string | null> {
    const r = (await this.#rows('SELECT uploader_id FROM web_blobs WHERE blob_id = ?', [blobId]))[0]
    return r === undefined ? null : (r['uploader_id'] as string)
  }
}
