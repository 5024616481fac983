// Everything a route needs, built once by buildApp: dependencies, stores and the shared
// steps (authenticate a request, submit a service command, send a verification mail).
import type {} from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import type { Pool } from 'mysql2/promise'
import { assert } from '../../domain/assert.ts'
import { createCommand, signCommand } from '../../domain/command.ts'
import type { CommandByType, CommandType } from '../../domain/commands.ts'
import type { CryptoFacade } from '../../domain/crypto/types.ts'
import { toBase64url, toHex, utf8Encode } from '../../domain/encoding.ts'
import { ZixtError } from '../../domain/errors.ts'
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { Ingest } from '../../ingest/submit.ts'
import type { RateRule } from '../../ingest/rateLimit.ts'
import { hitRate } from '../../ingest/rateLimit.ts'
import { channels } from '../../projections/redis/keys.ts'
import type { AccountsNotification } from '../../projections/redis/notify.ts'
import { positionChannel } from '../../projections/runner.ts'
import { AccountCache } from './accountCache.ts'
import { webError, WebError } from './httpErrors.ts'
import type { Mailer } from './mailer.ts'
import type { ReadModel, RmDevice, RmUser } from './readModel.ts'
import { defaultPasswordCost, emailHash, type ScryptCost } from './secrets.ts'
import { SESSION_COOKIE, SessionStore, type SessionRef } from './sessions.ts'
import { WebStore } from './store.ts'

export type WebConfig = {
  readonly origin: string // e.g. http://127.0.0.1:8080: the only Origin accepted for ws and state-changing requests
  readonly publicUrl: string // base of links in mails
  readonly tls: boolean
  readonly passwordCost: ScryptCost
  readonly rates: {
    readonly login: RateRule
    readonly register: RateRule
    readonly resend: RateRule
    readonly upload: RateRule
    /** POST /api/devices/enrol per IP (optional so older configs stay valid; default 10 / hour). */
    readonly enrol?: RateRule
  }
  readonly loginBackoff: { readonly threshold: number; readonly maxS: number; readonly windowS: number }
  readonly readWaitMs: number // how long a write waits for the projections to show it
  /**
   * How long the session's user and device rows stay cached (accountCache.ts); they are dropped
   * at once when the projector announces a change to them, this is only a backstop. 0: no cache.
   */
  readonly authCacheMs?: number
  readonly staticDir: string | null
  readonly blobBytesMax: number
  /** Pause between shred sweeps (Ctx.sweepShredded; optional so older configs stay valid; default 5000). */
  readonly shredSweepMs?: number
}

const POSITION_POLL_MS = 50
/** Deleted accounts one shred sweep takes at most; a longer backlog goes on in the next sweeps. */
const SHRED_SWEEP_ROWS_MAX = 200

export type ServiceKey = { readonly keyId: string; readonly secretKey: Uint8Array }

export type AppDeps = {
  readonly crypto: CryptoFacade
  readonly redis: Redis
  readonly prefix: string
  readonly db: Pool
  readonly read: ReadModel
  readonly ingest: Ingest
  readonly service: ServiceKey
  readonly mailer: Mailer
  readonly blobsDir: string
  readonly config?: Partial<WebConfig>
  readonly now?: () => number
  /** A second Redis connection for pub/sub (ws live delivery); duplicated from `redis` when absent. */
  readonly subscriber?: Redis
  readonly log?: (line: string) => void
}

export const defaultConfig: WebConfig = {
  origin: 'http://127.0.0.1:8080',
  publicUrl: 'http://127.0.0.1:8080',
  tls: false,
  passwordCost: defaultPasswordCost,
  rates: {
    login: { limit: 30, windowS: 60 },
    register: { limit: 10, windowS: 3600 },
    resend: { limit: 3, windowS: 3600 },
    upload: { limit: 60, windowS: 60 },
    enrol: { limit: 10, windowS: 3600 },
  },
  loginBackoff: { threshold: 3, maxS: 300, windowS: 900 },
  readWaitMs: 5000,
  authCacheMs: 5000,
  staticDir: null,
  blobBytesMax: 15 * 1024 * 1024 + 64 * 1024,
  shredSweepMs: 5000,
}

export type Auth = { readonly session: SessionRef; readonly user: RmUser; readonly device: RmDevice }

export type EventJson = Omit<EventEnvelope, 'prevHash'>
export function eventJson(e: EventEnvelope): EventJson {
  const { prevHash: _drop, ...rest } = e
  return rest
}

export class Ctx {
  readonly d: AppDeps
  readonly config: WebConfig
  readonly sessions: SessionStore
  readonly store: WebStore
  readonly crypto: CryptoFacade
  readonly prefix: string
  readonly authCache = new WeakMap<FastifyRequest, Auth | null>()
  /** Users and devices of sessions, across requests (invalidated by the projector's `accounts` notices). */
  readonly accounts: AccountCache
  constructor(d: AppDeps) {
    this.d = d
    this.config = { ...defaultConfig, ...d.config, rates: { ...defaultConfig.rates, ...d.config?.rates } }
    this.accounts = new AccountCache(this.config.authCacheMs ?? 0, () => this.now())
    this.sessions = new SessionStore(d.redis, d.prefix, d.crypto)
    this.store = new WebStore(d.db)
    this.crypto = d.crypto
    this.prefix = d.prefix
  }
  now(): number {
    return this.d.now?.() ?? Date.now()
  }
  log(line: string): void {
    ;(this.d.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line)
  }

  /** The session of this request, re-checked against the read model (device active, user usable); null without one. */
  async optionalAuth(req: FastifyRequest): Promise<Auth | null> {
    if (this.authCache.has(req)) return this.authCache.get(req)!
    const token = req.cookies[SESSION_COOKIE]
    let auth: Auth | null = null
    if (token !== undefined) {
      this.#follow() // the cache serves once the invalidations arrive
      const session = await this.sessions.get(token) // never cached: a logout ends it at once
      if (session !== null) {
        const [user, device] = await this.sessionAccount(session)
        const usable = user !== null && device !== null && !user.deleted && !user.disabled && !device.revoked && !device.expired && device.userId === user.userId
        if (usable) auth = { session, user, device }
        else await this.sessions.delete(session.id)
      }
    }
    this.authCache.set(req, auth)
    return auth
  }

  /** The session's user and device rows, through the cache. */
  sessionAccount(session: { readonly userId: string; readonly deviceId: string }): Promise<[RmUser | null, RmDevice | null]> {
    return Promise.all([
      this.accounts.user(session.userId, (id) => this.d.read.userById(id)),
      this.accounts.device(session.deviceId, (id) => this.d.read.device(id)),
    ])
  }

  async auth(req: FastifyRequest): Promise<Auth> {
    const a = await this.optionalAuth(req)
    if (a === null) throw webError(WebError.unauthenticated, 'no valid session: log in')
    return a
  }

  async requireAdmin(req: FastifyRequest): Promise<Auth> {
    const a = await this.auth(req)
    if (!a.user.admin) throw webError('ZIXT_ERR_NOT_ADMIN', 'admin only')
    return a
  }

  async rate(key: string, rule: RateRule): Promise<void> {
    const r = await hitRate(this.d.redis, `${this.prefix}rl:${key}`, rule)
    if (!r.ok) throw webError(WebError.rateLimited, `too many requests; retry in ${r.retryAfterS} s`, { retryAfterS: r.retryAfterS })
  }

  /**
   * Waits (bounded) until the projections applied `position`, so the caller reads its own write.
   * Woken by the runner's position notice (projections/runner.ts positionChannel) as soon as a
   * batch commits; one shared MySQL read of the position every POSITION_POLL_MS covers a notice
   * missed (subscription not yet ready, Redis reconnect, a runner that does not publish). While
   * subscribed, the first read waits for that interval too: the notice is what normally comes
   * first, and the read-model pool is what every request of this node queues on.
   */
  async waitForPosition(position: number): Promise<boolean> {
    if (this.#projected >= position) return true
    this.#follow()
    const deadline = Date.now() + this.config.readWaitMs
    if (!this.#noticesLive) this.#saw(await this.#sharedPosition())
    for (let i = 0; i < 10_000 && this.#projected < position && Date.now() < deadline; i++) {
      const woken = await this.#nextNotice(Math.min(POSITION_POLL_MS, Math.max(1, deadline - Date.now())))
      if (!woken) this.#saw(await this.#sharedPosition())
    }
    return this.#projected >= position
  }
  #projected = -1 // highest position the projections are known to have applied
  #wakers = new Set<() => void>()
  #notices: Redis | null = null
  #noticesLive = false // subscribed: notices arrive (else every wait reads MySQL first)
  #positionRead: Promise<number> | null = null
  #sharedPosition(): Promise<number> {
    this.#positionRead ??= this.d.read.position().finally(() => { this.#positionRead = null })
    return this.#positionRead
  }
  #saw(position: number): void {
    if (!Number.isSafeInteger(position) || position <= this.#projected) return
    this.#projected = position
    for (const wake of [...this.#wakers]) wake()
  }
  /** True when a notice arrived, false after `ms`. */
  #nextNotice(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#wakers.delete(wake); resolve(false) }, ms)
      const wake = (): void => { clearTimeout(timer); this.#wakers.delete(wake); resolve(true) }
      this.#wakers.add(wake)
    })
  }
  #closed = false
  /**
   * One subscriber for the projector's position notices and account changes. One connection,
   * so both arrive in the order published: an account change is applied to the cache before
   * the position notice that answers the request which made it (read your own revocation).
   */
  #follow(): void {
    if (this.#notices !== null || this.#closed) return
    const sub = this.d.redis.duplicate()
    this.#notices = sub
    const position = positionChannel(this.prefix)
    const accounts = channels.accounts(this.prefix)
    sub.on('error', () => {}) // ioredis reconnects; meanwhile the cache is off and the poll covers the gap
    sub.on('close', () => {
      this.#noticesLive = false
      this.accounts.setLive(false)
    })
    sub.on('ready', () => {
      // (re)subscribed: only from here on can no account change pass unseen
      sub.subscribe(position, accounts).then(() => {
        if (sub.status !== 'ready' || this.#closed) return
        this.#noticesLive = true
        this.accounts.setLive(true)
      }, () => {})
    })
    sub.on('message', (channel: string, raw: string) => {
      if (channel === position) return this.#saw(Number(raw))
      if (channel !== accounts) return
      try {
        const n = JSON.parse(raw) as AccountsNotification
        this.accounts.invalidate(Array.isArray(n.userIds) ? n.userIds : [])
      } catch {
        this.accounts.clear() // unreadable: assume anything changed
      }
    })
  }
  /** Ends the notice subscription (the app's onClose). */
  close(): void {
    this.#closed = true
    this.#noticesLive = false
    this.accounts.setLive(false)
    this.#notices?.disconnect()
    this.#notices = null
    for (const wake of [...this.#wakers]) wake()
  }

  /**
   * Crypto-shredding follows the ledger, not the request: every account the read model shows
   * deleted since the checkpoint loses its data key and secrets (store.shred). The route's
   * afterCommit shreds at once; this catches what it missed — a wait for the projections that
   * threw, a web process that died, a deletion answered by another node or never answered.
   * Idempotent and safe beside other web processes; the checkpoint moves only after every
   * shred of the batch succeeded, so a failed sweep is retried whole.
   */
  async sweepShredded(): Promise<string[]> {
    const from = await this.store.shredCheckpoint()
    const deleted = await this.d.read.deletedUsersAfter(from, SHRED_SWEEP_ROWS_MAX)
    assert(deleted.length <= SHRED_SWEEP_ROWS_MAX, 'shred sweep: more rows than asked for')
    const shredded: string[] = []
    for (const u of deleted) {
      assert(u.position > from.position || (u.position === from.position && u.userId > from.userId), `shred sweep: ${u.userId} at ${u.position} is not after the checkpoint`)
      if (await this.store.shred(u.userId)) shredded.push(u.userId)
    }
    const last = deleted.at(-1)
    if (last !== undefined) await this.store.advanceShredCheckpoint(last)
    // user ids only: never an e-mail or a key
    if (shredded.length > 0) this.log(`shred: sweep destroyed the data keys of ${shredded.length} deleted account(s) up to position ${last!.position}: ${shredded.join(' ')}`)
    return shredded
  }
  #sweepTimer: NodeJS.Timeout | null = null
  #sweeping: Promise<void> | null = null
  #sweepStopped = false
  /** A sweep now (web start-up), then one every shredSweepMs until stopShredSweep. */
  startShredSweep(): void {
    if (this.#sweepStopped || this.#sweeping !== null || this.#sweepTimer !== null) return
    this.#sweeping = this.sweepShredded().then(() => {}, (err: unknown) => this.log(`shred: sweep failed: ${(err as Error)?.message ?? String(err)}`))
      .finally(() => {
        this.#sweeping = null
        if (this.#sweepStopped) return
        this.#sweepTimer = setTimeout(() => { this.#sweepTimer = null; this.startShredSweep() }, this.config.shredSweepMs ?? 5000)
        this.#sweepTimer.unref()
      })
  }
  /** Ends the sweeps (the app's onClose), waiting for one under way so the pool can close after. */
  async stopShredSweep(): Promise<void> {
    this.#sweepStopped = true
    if (this.#sweepTimer !== null) clearTimeout(this.#sweepTimer)
    this.#sweepTimer = null
    await this.#sweeping
  }

  async committed(result: Awaited<ReturnType<Ingest['submit']>>): Promise<{ kind: 'committed'; height: number; events: EventJson[] }> {
    if (result.kind === 'rejected') throw new ZixtError(result.code, result.reason)
    const last = result.events.at(-1)
    if (last !== undefined) await this.waitForPosition(last.position)
    return { kind: 'committed', height: result.height, events: result.events.map(eventJson) }
  }

  /** A service-signed command (VerifyEmail, rotation job): the only commands the web signs. */
  async submitService<T extends CommandType>(type: T, payload: CommandByType<T>['payload']) {
    const { keyId, secretKey } = this.d.service
    const command = createCommand({ type, author: keyId, signer: 'service', keyId, payload }, this.now(), this.crypto)
    return this.committed(await this.d.ingest.submit(signCommand(command, secretKey, 'service', this.crypto)))
  }

  /** Stores a fresh single-use token and mails the link (or logs it). */
  async sendVerification(userId: string, email: string, encryptedEmail: string): Promise<void> {
    const token = toBase64url(this.crypto.randomBytes(32))
    const key = `${this.prefix}verify:${toHex(this.crypto.sha256(utf8Encode(token)))}`
    await this.d.redis.set(key, JSON.stringify({ userId, encryptedEmailHash: emailHash(encryptedEmail, this.crypto) }), 'EX', 24 * 3600)
    const link = `${this.config.publicUrl}/api/email/verify?token=${token}`
    await this.d.mailer.send({
      to: email,
      subject: 'Verify your Zixt e-mail address',
      text: `Open this link to verify your e-mail address for Zixt:\n\n${link}\n\nThe link works once, for 24 hours.\n`,
    })
  }

  setSessionCookie(reply: FastifyReply, token: string): void {
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: this.config.tls, path: '/', maxAge: 12 * 3600 })
  }
}
