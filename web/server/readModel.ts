// What the web reads, and only from the projections' tables (docs/projections.md): never
// from consensus. A thin adapter over the projections' read side (projections/read/*.ts,
// tested there) that shapes rows the way the routes answer; the few queries the read side
// has no function for (batch lookups, admin counts, the rotation job's scan) stay here.
import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { Redis } from 'ioredis'
import { getDevice, getUser, getUserByUsername, listDeviceKeys, listDevices, listUsers } from '../../projections/read/accounts.ts'
import {
  getAttachmentForMember, getMembership, getThread, listMembers, listMessages, listMlsCommits, listReactions, listThreadsForUser,
} from '../../projections/read/conversations.ts'
import { select } from '../../projections/read/db.ts'
import { getKeyPackage } from '../../projections/read/keyPackages.ts'
import { projectionPositions } from '../../projections/read/status.ts'
import type { DeviceRow, ThreadListItem, ThreadRow, UserRow } from '../../projections/read/types.ts'
import { unreadCounts } from '../../projections/redis/unread.ts'

export type RmUser = UserRow
export type RmDevice = DeviceRow
export type RmThread = ThreadRow
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
const n = (v: unknown): number => Number(v)
/** listThreadsForUser's page size (its cap); a user has at most limits.threadsPerUserMax threads. */
const threadPage = 500
const threadPagesMax = 8

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

  userById(userId: string): Promise<RmUser | null> {
    return getUser(this.db, userId)
  }
  userByUsername(username: string): Promise<RmUser | null> {
    return getUserByUsername(this.db, username)
  }
  async usersByUsernames(usernames: readonly string[]): Promise<RmUser[]> {
    if (usernames.length === 0) return []
    return select<UserRow>(this.db, 'SELECT * FROM users WHERE username IN (?) AND deleted = 0', [usernames])
  }
  async usernames(userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map()
    const rows = await this.#rows('SELECT user_id, username FROM users WHERE user_id IN (?)', [userIds])
    return new Map(rows.map((r) => [r['user_id'] as string, r['username'] as string]))
  }
  async listUsers(after: string | undefined, limit: number): Promise<(RmUser & { devices: number })[]> {
    const users = await listUsers(this.db, { after, limit })
    if (users.length === 0) return []
    const counts = await this.#rows('SELECT user_id, COUNT(*) AS c FROM devices WHERE user_id IN (?) AND revoked = 0 GROUP BY user_id', [users.map((u) => u.userId)])
    const byUser = new Map(counts.map((r) => [r['user_id'] as string, n(r['c'])]))
    return users.map((u) => ({ ...u, devices: byUser.get(u.userId) ?? 0 }))
  }
  async adminCount(): Promise<number> {
    return n((await this.#rows('SELECT COUNT(*) AS c FROM users WHERE admin = 1 AND deleted = 0'))[0]!['c'])
  }
  device(deviceId: string): Promise<RmDevice | null> {
    return getDevice(this.db, deviceId)
  }
  /** The user's devices with the certificate of each one's current key (≤ limits.devicesPerUserMax devices). */
  async devices(userId: string): Promise<(RmDevice & { certificate: string | null })[]> {
    const devices = await listDevices(this.db, userId)
    const keys = await Promise.all(devices.map((d) => listDeviceKeys(this.db, d.deviceId)))
    return devices.map((d, i) => ({ ...d, certificate: keys[i]!.find((k) => k.keyVersion === d.keyVersion)?.certificate ?? null }))
  }
  /**
   * Active devices whose current key's certificate was issued before `issuedBefore` (rotation
   * job), with the ledger position of the event that installed the key: the domain ages a key
   * by that event's block time, which the certificate's issuedAt may precede by any amount.
   */
  async devicesIssuedBefore(issuedBefore: number, limit: number): Promise<(RmDevice & { keyAddedPosition: number })[]> {
    return select<RmDevice & { certificate: string; keyAddedPosition: number }>(this.db, `SELECT d.*, k.certificate, k.added_position AS key_added_position FROM devices d
      JOIN device_keys k ON k.device_id = d.device_id AND k.key_version = d.key_version
      WHERE d.revoked = 0 AND d.expired = 0 AND d.issued_at < ? ORDER BY d.issued_at LIMIT ?`, [issuedBefore, limit])
  }
  thread(threadId: string): Promise<RmThread | null> {
    return getThread(this.db, threadId)
  }
  async isMember(threadId: string, userId: string): Promise<boolean> {
    return (await getMembership(this.db, threadId, userId))?.active === true
  }
  async members(threadId: string): Promise<RmMember[]> {
    return (await listMembers(this.db, threadId)).map((m) => ({ userId: m.userId, joinedPosition: m.joinedPosition, addedBy: m.addedBy ?? null }))
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
  /** The user's threads, newest activity first: visible ones (false), hidden ones (true) or all (undefined). */
  async threadsForUser(userId: string, hidden: boolean | undefined): Promise<ThreadListItem[]> {
    const out: ThreadListItem[] = []
    let beforeActivity: number | undefined
    for (let i = 0; i < threadPagesMax; i++) {
      const page = await listThreadsForUser(this.db, userId, { includeHidden: hidden !== false, beforeActivity, limit: threadPage })
      out.push(...(hidden === true ? page.filter((t) => t.hidden) : page))
      if (page.length < threadPage) break
      beforeActivity = page.at(-1)!.lastActivityPosition
    }
    return out
  }
  async threadIdsForUser(userId: string): Promise<string[]> {
    return (await this.#rows('SELECT thread_id FROM memberships WHERE user_id = ? AND active = 1', [userId])).map((r) => r['thread_id'] as string)
  }
  unread(userId: string): Promise<Record<string, number>> {
    return unreadCounts(this.redis, this.prefix, userId)
  }
  async messages(threadId: string, o: { before?: number; after?: number; limit: number }): Promise<RmMessage[]> {
    const rows = await listMessages(this.db, threadId, o)
    const reactions = await listReactions(this.db, rows.map((m) => m.messageId))
    return rows.map((m) => ({
      messageId: m.messageId, threadId: m.threadId, userId: m.userId, deviceId: m.deviceId, epoch: m.epoch, ciphertext: m.ciphertext ?? null,
      time: m.time, edited: m.edited, deleted: m.deleted,
      attachments: m.attachments.filter((a) => !a.deleted).map((a) => ({ blobId: a.blobId, ciphertextBytes: a.ciphertextBytes, type: a.type })),
      reactions: reactions.filter((r) => r.messageId === m.messageId)
        .map((r) => ({ userId: r.userId, deviceId: r.deviceId, epoch: r.epoch, reaction: r.reaction, time: r.time, position: r.position })),
    }))
  }
  async mlsCommits(threadId: string, fromEpoch: number, limit: number) {
    return (await listMlsCommits(this.db, threadId, { fromEpoch, limit })).map((c) => ({
      epoch: c.epoch, commit: c.commitMessage, welcome: c.welcome ?? null, userId: c.userId, deviceId: c.deviceId, time: c.time, position: c.position,
    }))
  }
  async keyPackage(deviceId: string, ref: string) {
    const k = await getKeyPackage(this.db, deviceId, ref)
    return k === null ? null : { ref, userId: k.userId, deviceId, keyPackage: k.keyPackage, lastResort: k.lastResort, claimedBy: k.claimedBy ?? null }
  }
  /** A current member of a thread with a (not deleted) message that references the blob. */
  async blobVisibleTo(blobId: string, userId: string): Promise<boolean> {
    return (await getAttachmentForMember(this.db, blobId, userId)) !== null
  }
  /**
   * Deleted accounts after `after` in (position, userId) order: the shred sweep's scan. A row's
   * position only grows, so a deleted user changed again is seen again (the shred is idempotent).
   */
  async deletedUsersAfter(after: { readonly position: number; readonly userId: string }, limit: number): Promise<{ userId: string; position: number }[]> {
    const rows = await this.#rows(`SELECT user_id, position FROM users WHERE deleted = 1 AND (position > ? OR (position = ? AND user_id > ?))
      ORDER BY position, user_id LIMIT ?`, [after.position, after.position, after.userId, limit])
    return rows.map((r) => ({ userId: r['user_id'] as string, position: n(r['position']) }))
  }
  /** Last position every projection has applied (−1: none). */
  async position(): Promise<number> {
    const positions = Object.values(await projectionPositions(this.db))
    return positions.length === 3 ? Math.min(...positions) : -1 // each checkpoint table holds one row from its migration on
  }
}
