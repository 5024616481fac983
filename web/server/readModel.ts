// What the web reads, and only from the projections' tables (docs/projections.md): never
// from consensus. One adapter over the MySQL read models; rows come back camelCase.
import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import { unreadCounts } from '../../projections/redis/unread.ts'

export type RmUser = {
  readonly userId: string
  readonly username: string
  readonly identityPublicKey: string
  readonly encryptedEmail: string | null
  readonly emailVerified: boolean
  readonly admin: boolean
  readonly disabled: boolean
  readonly deleted: boolean
  readonly totp: boolean
  readonly createdTime: number
}
export type RmDevice = {
  readonly deviceId: string
  readonly userId: string
  readonly keyVersion: number
  readonly publicKey: string
  readonly issuedAt: number
  readonly certificate: string | null
  readonly rotationDue: boolean
  readonly expired: boolean
  readonly revoked: boolean
}
export type RmThread = {
  readonly threadId: string
  readonly groupId: string
  readonly encryptedName: string
  readonly ownerId: string | null
  readonly epoch: number
  readonly memberCount: number
  readonly lastActivityPosition: number
  readonly lastActivityTime: number
}
export type RmMember = { readonly userId: string; readonly joinedPosition: number; readonly addedBy: string | null }
export type RmMessage = {
  readonly messageId: number
  readonly threadId: string
  readonly userId: string
  readonly deviceId: string
  readonly epoch: number
  readonly ciphertext: string | null
  readonly time: number
  readonly edited: boolean
  readonly deleted: boolean
  attachments: { blobId: string; ciphertextBytes: number; type: string }[]
  reactions: { userId: string; deviceId: string; epoch: number; reaction: string; time: number; position: number }[]
}

type Row = RowDataPacket & Record<string, unknown>
const b = (v: unknown): boolean => Number(v) === 1
const n = (v: unknown): number => Number(v)

function user(r: Row): RmUser {
  return {
    userId: r['user_id'] as string, username: r['username'] as string, identityPublicKey: r['identity_public_key'] as string,
    encryptedEmail: (r['encrypted_email'] as string | null) ?? null, emailVerified: b(r['email_verified']), admin: b(r['admin']),
    disabled: b(r['disabled']), deleted: b(r['deleted']), totp: b(r['totp']), createdTime: n(r['created_time']),
  }
}
function device(r: Row): RmDevice {
  return {
    deviceId: r['device_id'] as string, userId: r['user_id'] as string, keyVersion: n(r['key_version']), publicKey: r['public_key'] as string,
    issuedAt: n(r['issued_at']), certificate: (r['certificate'] as string | null) ?? null, rotationDue: b(r['rotation_due']), expired: b(r['expired']),
    revoked: b(r['revoked']),
  }
}
function thread(r: Row): RmThread {
  return {
    threadId: r['thread_id'] as string, groupId: r['group_id'] as string, encryptedName: r['encrypted_name'] as string,
    ownerId: (r['owner_id'] as string | null) ?? null, epoch: n(r['epoch']), memberCount: n(r['member_count']),
    lastActivityPosition: n(r['last_activity_position']), lastActivityTime: n(r['last_activity_time']),
  }
}

const DEVICE_SQL = `SELECT d.*, k.certificate FROM devices d LEFT JOIN device_keys k ON k.device_id = d.device_id AND k.key_version = d.key_version`

export class ReadModel {
  readonly db: Pool
  readonly redis: Redis
  readonly prefix: string
  constructor(db: Pool, redis: Redis, prefix: string) {
    this.db = db
    this.redis = redis
    this.prefix = prefix
  }

  async #rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    const [rows] = await this.db.query<Row[]>(sql, params)
    return rows
  }

  async userById(userId: string): Promise<RmUser | null> {
    const r = await this.#rows('SELECT * FROM users WHERE user_id = ?', [userId])
    return r[0] === undefined ? null : user(r[0])
  }
  async userByUsername(username: string): Promise<RmUser | null> {
    const r = await this.#rows('SELECT * FROM users WHERE username = ? AND deleted = 0', [username])
    return r[0] === undefined ? null : user(r[0])
  }
  async usersByUsernames(usernames: readonly string[]): Promise<RmUser[]> {
    if (usernames.length === 0) return []
    return (await this.#rows('SELECT * FROM users WHERE username IN (?) AND deleted = 0', [usernames])).map(user)
  }
  async usernames(userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map()
    const rows = await this.#rows('SELECT user_id, username FROM users WHERE user_id IN (?)', [userIds])
    return new Map(rows.map((r) => [r['user_id'] as string, r['username'] as string]))
  }
  async listUsers(after: string | undefined, limit: number): Promise<(RmUser & { devices: number })[]> {
    const rows = await this.#rows(
      `SELECT u.*, (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.user_id AND d.revoked = 0) AS device_count
       FROM users u WHERE u.user_id > ? ORDER BY u.user_id LIMIT ?`, [after ?? '', limit])
    return rows.map((r) => ({ ...user(r), devices: n(r['device_count']) }))
  }
  async adminCount(): Promise<number> {
    return n((await this.#rows('SELECT COUNT(*) AS c FROM users WHERE admin = 1 AND deleted = 0'))[0]!['c'])
  }
  async device(deviceId: string): Promise<RmDevice | null> {
    const r = await this.#rows(`${DEVICE_SQL} WHERE d.device_id = ?`, [deviceId])
    return r[0] === undefined ? null : device(r[0])
  }
  async devices(userId: string): Promise<RmDevice[]> {
    return (await this.#rows(`${DEVICE_SQL} WHERE d.user_id = ? ORDER BY d.added_position`, [userId])).map(device)
  }
  /**
   * Active devices whose current key's certificate was issued before `issuedBefore` (rotation
   * job), with the ledger position of the event that installed the key: the domain ages a key
   * by that event's block time, which the certificate's issuedAt may precede by any amount.
   */
  async devicesIssuedBefore(issuedBefore: number, limit: number): Promise<(RmDevice & { keyAddedPosition: number })[]> {
    const rows = await this.#rows(`SELECT d.*, k.certificate, k.added_position AS key_added_position FROM devices d
      JOIN device_keys k ON k.device_id = d.device_id AND k.key_version = d.key_version
      WHERE d.revoked = 0 AND d.expired = 0 AND d.issued_at < ? ORDER BY d.issued_at LIMIT ?`, [issuedBefore, limit])
    return rows.map((r) => ({ ...device(r), keyAddedPosition: n(r['key_added_position']) }))
  }
  async thread(threadId: string): Promise<RmThread | null> {
    const r = await this.#rows('SELECT * FROM threads WHERE thread_id = ?', [threadId])
    return r[0] === undefined ? null : thread(r[0])
  }
  async isMember(threadId: string, userId: string): Promise<boolean> {
    const r = await this.#rows('SELECT active FROM memberships WHERE thread_id = ? AND user_id = ?', [threadId, userId])
    return r[0] !== undefined && b(r[0]['active'])
  }
  async members(threadId: string): Promise<RmMember[]> {
    const rows = await this.#rows('SELECT user_id, joined_position, added_by FROM memberships WHERE thread_id = ? AND active = 1 ORDER BY joined_position, user_id', [threadId])
    return rows.map((r) => ({ userId: r['user_id'] as string, joinedPosition: n(r['joined_position']), addedBy: (r['added_by'] as string | null) ?? null }))
  }
  async membersOf(threadIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>()
    if (threadIds.length === 0) return out
    const rows = await this.#rows('SELECT thread_id, user_id FROM memberships WHERE thread_id IN (?) AND active = 1 ORDER BY joined_position, user_id', [threadIds])
    for (const r of rows) {
      const list = out.get(r['thread_id'] as string) ?? []
      list.push(r['user_id'] as string)
      out.set(r['thread_id'] as string, list)
    }
    return out
  }
  async threadsForUser(userId: string, hidden: boolean | undefined, limit = 1024): Promise<(RmThread & { hidden: boolean })[]> {
    const rows = await this.#rows(
      `SELECT t.*, COALESCE(v.hidden, 0) AS hidden FROM memberships m JOIN threads t ON t.thread_id = m.thread_id
       LEFT JOIN thread_visibility v ON v.user_id = m.user_id AND v.thread_id = m.thread_id
       WHERE m.user_id = ? AND m.active = 1 ${hidden === undefined ? '' : 'AND COALESCE(v.hidden, 0) = ?'}
       ORDER BY t.last_activity_position DESC LIMIT ?`,
      hidden === undefined ? [userId, limit] : [userId, hidden ? 1 : 0, limit])
    return rows.map((r) => ({ ...thread(r), hidden: b(r['hidden']) }))
  }
  async threadIdsForUser(userId: string): Promise<string[]> {
    return (await this.#rows('SELECT thread_id FROM memberships WHERE user_id = ? AND active = 1', [userId])).map((r) => r['thread_id'] as string)
  }
  unread(userId: string): Promise<Record<string, number>> {
    return unreadCounts(this.redis, this.prefix, userId)
  }
  async messages(threadId: string, o: { before?: number; after?: number; limit: number }): Promise<RmMessage[]> {
    const rows = o.after !== undefined
      ? await this.#rows('SELECT * FROM messages WHERE thread_id = ? AND message_id > ? ORDER BY message_id ASC LIMIT ?', [threadId, o.after, o.limit])
      : await this.#rows('SELECT * FROM messages WHERE thread_id = ? AND message_id < ? ORDER BY message_id DESC LIMIT ?', [threadId, o.before ?? Number.MAX_SAFE_INTEGER, o.limit])
    const list: RmMessage[] = rows.map((r) => ({
      messageId: n(r['message_id']), threadId: r['thread_id'] as string, userId: r['user_id'] as string, deviceId: r['device_id'] as string,
      epoch: n(r['epoch']), ciphertext: (r['ciphertext'] as string | null) ?? null, time: n(r['time']), edited: b(r['edited']), deleted: b(r['deleted']),
      attachments: [], reactions: [],
    }))
    if (list.length === 0) return list
    const byId = new Map(list.map((m) => [m.messageId, m]))
    const ids = [...byId.keys()]
    for (const a of await this.#rows('SELECT * FROM attachments WHERE message_id IN (?) AND deleted = 0 ORDER BY message_id, idx', [ids])) {
      byId.get(n(a['message_id']))?.attachments.push({ blobId: a['blob_id'] as string, ciphertextBytes: n(a['ciphertext_bytes']), type: a['type'] as string })
    }
    for (const r of await this.#rows('SELECT * FROM reactions WHERE message_id IN (?) ORDER BY position', [ids])) {
      byId.get(n(r['message_id']))?.reactions.push({
        userId: r['user_id'] as string, deviceId: r['device_id'] as string, epoch: n(r['epoch']), reaction: r['reaction'] as string, time: n(r['time']), position: n(r['position']),
      })
    }
    return list
  }
  async mlsCommits(threadId: string, fromEpoch: number, limit: number) {
    const rows = await this.#rows('SELECT * FROM mls_commits WHERE thread_id = ? AND epoch >= ? ORDER BY epoch LIMIT ?', [threadId, fromEpoch, limit])
    return rows.map((r) => ({
      epoch: n(r['epoch']), commit: r['commit_message'] as string, welcome: (r['welcome'] as string | null) ?? null, userId: r['user_id'] as string,
      deviceId: r['device_id'] as string, time: n(r['time']), position: n(r['position']),
    }))
  }
  async keyPackage(deviceId: string, ref: string) {
    const r = (await this.#rows('SELECT * FROM key_packages WHERE device_id = ? AND ref = ?', [deviceId, ref]))[0]
    if (r === undefined) return null
    return { ref, userId: r['user_id'] as string, deviceId, keyPackage: r['key_package'] as string, lastResort: b(r['last_resort']), claimedBy: (r['claimed_by'] as string | null) ?? null }
  }
  /** A current member of a thread with a (not deleted) message that references the blob. */
  async blobVisibleTo(blobId: string, userId: string): Promise<boolean> {
    const r = await this.#rows(
      `SELECT 1 FROM attachments a JOIN memberships m ON m.thread_id = a.thread_id AND m.user_id = ? AND m.active = 1
       WHERE a.blob_id = ? AND a.deleted = 0 LIMIT 1`, [userId, blobId])
    return r.length > 0
  }
  /** Last position every projection has applied (−1: none). */
  async position(): Promise<number> {
    const rows = await this.#rows('SELECT (SELECT position FROM checkpoint_accounts) AS a, (SELECT position FROM checkpoint_conversations) AS c')
    return Math.min(n(rows[0]!['a']), n(rows[0]!['c']))
  }
}
