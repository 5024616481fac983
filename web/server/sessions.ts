// Sessions in Redis: the cookie holds 32 random bytes, Redis only their SHA-256. Each
// session is bound to one device and carries its own CSRF token.
import type { Redis } from 'ioredis'
import type { CryptoFacade } from '../../domain/crypto/types.ts'
import { toBase64url, toHex, utf8Encode } from '../../domain/encoding.ts'

export const SESSION_COOKIE = 'zixt_session'
export const CSRF_COOKIE = 'zixt_csrf'
export const sessionTtlS = 12 * 3600

export type Session = { readonly userId: string; readonly deviceId: string; readonly csrf: string; readonly createdAt: number }
export type SessionRef = Session & { readonly id: string } // id = hex SHA-256 of the token

export class SessionStore {
  readonly redis: Redis
  readonly prefix: string
  readonly crypto: CryptoFacade
  constructor(redis: Redis, prefix: string, crypto: CryptoFacade) {
    this.redis = redis
    this.prefix = prefix
    this.crypto = crypto
  }
  idOf(token: string): string {
    return toHex(this.crypto.sha256(utf8Encode(token)))
  }
  #key(id: string): string {
    return `${this.prefix}sess:${id}`
  }
  async create(userId: string, deviceId: string, now: number): Promise<{ token: string; session: SessionRef }> {
    const token = toBase64url(this.crypto.randomBytes(32))
    const session: Session = { userId, deviceId, csrf: toBase64url(this.crypto.randomBytes(32)), createdAt: now }
    const id = this.idOf(token)
    await this.redis.multi().set(this.#key(id), JSON.stringify(session), 'EX', sessionTtlS).sadd(`${this.prefix}devsess:${deviceId}`, id).exec()
    return { token, session: { ...session, id } }
  }
  async get(token: string): Promise<SessionRef | null> {
    if (typeof token !== 'string' || token.length !== 43) return null
    const id = this.idOf(token)
    const raw = await this.redis.getex(this.#key(id), 'EX', sessionTtlS)
    if (raw === null) return null
    return { ...(JSON.parse(raw) as Session), id }
  }
  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.#key(id))) === 1
  }
  async delete(id: string): Promise<void> {
    await this.redis.del(this.#key(id))
  }
  /** Ends every session of a device (revoked, expired). */
  async deleteDevice(deviceId: string): Promise<void> {
    const ids = await this.redis.smembers(`${this.prefix}devsess:${deviceId}`)
    const m = this.redis.multi()
    for (const id of ids) m.del(this.#key(id))
    m.del(`${this.prefix}devsess:${deviceId}`)
    await m.exec()
  }
}

/** The session with this id (the hash), for ws tickets. */
export async function sessionById(store: SessionStore, id: string): Promise<SessionRef | null> {
  const raw = await store.redis.get(`${store.prefix}sess:${id}`)
  return raw === null ? null : { ...(JSON.parse(raw) as Session), id }
}
