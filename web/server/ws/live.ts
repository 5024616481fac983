// Live delivery: one Redis subscriber per web process. The projections publish each applied
// event on the thread's and the user's channels (docs/projections.md); this hub forwards
// them to the local sockets of the users concerned, plus typing and presence, which the
// web publishes itself on `<prefix>web:ephemeral`. Any web process can serve any user.
import type {} from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import type { WebSocket } from 'ws'
import { channels, presenceTtlSeconds, redisKeys, typingTtlSeconds } from '../../../projections/redis/keys.ts'
import type { Ctx } from '../context.ts'
import { sessionById, type SessionRef } from '../sessions.ts'

type Conn = {
  readonly ws: WebSocket
  readonly userId: string
  readonly deviceId: string
  readonly sessionId: string
  readonly threads: Set<string>
  readonly contacts: Set<string>
  readonly recent: number[] // positions already sent (bounded), for at-least-once de-duplication
  readonly recentSet: Set<number>
  readonly typingAt: Map<string, number> // threadId → when its last typing frame was passed on (ms)
}

const RECENT_MAX = 1024
const clientFrameBytesMax = 64 * 1024
// Each typing frame passed on costs a Redis SET + PUBLISH and a delivery on every web node;
// the client repeats it while the user types, so one per thread this often is all it needs.
const typingIntervalMs = 2000

type Notification =
  | { v: 1; kind: 'event'; position: number; type: string; stream: string; blockHeight: number; time: number; author: string; payload?: Record<string, unknown>; payloadOmitted?: true }
  | { v: 1; kind: 'unread'; position: number; threadId: string; count: number }

export class LiveHub {
  readonly ctx: Ctx
  readonly sub: Redis
  readonly ephemeral: string
  readonly conns = new Set<Conn>()
  readonly byChannel = new Map<string, Set<Conn>>()
  readonly timer: NodeJS.Timeout

  constructor(ctx: Ctx, sub: Redis) {
    this.ctx = ctx
    this.sub = sub
    this.ephemeral = `${ctx.prefix}web:ephemeral`
    void sub.subscribe(this.ephemeral)
    sub.on('message', (channel: string, raw: string) => {
      try {
        this.onMessage(channel, raw)
      } catch (e) {
        ctx.log(`live: ${channel}: ${(e as Error).message}`)
      }
    })
    this.timer = setInterval(() => void this.tick(), 5000)
    this.timer.unref()
  }

  async #join(channel: string, c: Conn): Promise<void> {
    let set = this.byChannel.get(channel)
    if (set === undefined) {
      set = new Set()
      this.byChannel.set(channel, set)
      await this.sub.subscribe(channel)
    }
    set.add(c)
    if (!this.conns.has(c)) this.#leave(channel, c) // removed while subscribing
  }
  #leave(channel: string, c: Conn): void {
    const set = this.byChannel.get(channel)
    if (set === undefined) return
    set.delete(c)
    if (set.size === 0) {
      this.byChannel.delete(channel)
      void this.sub.unsubscribe(channel)
    }
  }

  send(c: Conn, m: object): void {
    if (c.ws.readyState === 1) c.ws.send(JSON.stringify(m))
  }

  /** A frame serialised once for every member it goes to (a text frame from the bytes). */
  #sendFrame(c: Conn, frame: Buffer): void {
    if (c.ws.readyState === 1) c.ws.send(frame, { binary: false })
  }

  #forward(c: Conn, n: Notification & { kind: 'event' }, frame: () => Buffer): void {
    if (c.recentSet.has(n.position)) return
    c.recent.push(n.position)
    c.recentSet.add(n.position)
    if (c.recent.length > RECENT_MAX) c.recentSet.delete(c.recent.shift()!)
    this.#sendFrame(c, frame())
  }

  /**
   * Joins the user's and threads' channels and marks the user online. A remove() may run while
   * this awaits (socket closed, session ended): after each await a removed connection stops
   * here, and #join leaves a channel it joined late, so nothing of it stays behind.
   */
  async add(c: Conn): Promise<void> {
    this.conns.add(c)
    await this.#join(channels.user(this.ctx.prefix, c.userId), c)
    if (!this.conns.has(c)) return
    const threads = await this.ctx.d.read.threadIdsForUser(c.userId)
    if (!this.conns.has(c)) return
    const members = await this.ctx.d.read.membersOf(threads)
    for (const t of threads) {
      if (!this.conns.has(c)) return
      c.threads.add(t)
      await this.#join(channels.thread(this.ctx.prefix, t), c)
      for (const m of members.get(t) ?? []) if (m !== c.userId) c.contacts.add(m)
    }
    if (!this.conns.has(c)) return
    await this.ctx.d.redis.set(redisKeys.presence(this.ctx.prefix, c.userId), String(this.ctx.now()), 'EX', presenceTtlSeconds)
    await this.ctx.d.redis.publish(this.ephemeral, JSON.stringify({ kind: 'presence', userId: c.userId, online: true }))
  }

  async remove(c: Conn): Promise<void> {
    if (!this.conns.delete(c)) return
    this.#leave(channels.user(this.ctx.prefix, c.userId), c)
    for (const t of c.threads) this.#leave(channels.thread(this.ctx.prefix, t), c)
    if (![...this.conns].some((o) => o.userId === c.userId)) {
      await this.ctx.d.redis.del(redisKeys.presence(this.ctx.prefix, c.userId))
      await this.ctx.d.redis.publish(this.ephemeral, JSON.stringify({ kind: 'presence', userId: c.userId, online: false }))
    }
  }

  end(c: Conn, reason: string): void {
    this.send(c, { type: 'sessionEnded', reason })
    c.ws.close(4001, reason)
    void this.remove(c)
  }

  onMessage(channel: string, raw: string): void {
    const m = JSON.parse(raw) as Record<string, unknown>
    if (channel === this.ephemeral) return this.#ephemeral(m)
    const set = this.byChannel.get(channel)
    if (set === undefined) return
    const n = m as Notification
    if (n.kind === 'unread') {
      const frame = Buffer.from(JSON.stringify({ type: 'unread', threadId: n.threadId, count: n.count }))
      for (const c of set) this.#sendFrame(c, frame)
      return
    }
    if (n.kind !== 'event') return
    let bytes: Buffer | null = null
    const frame = (): Buffer => {
      if (bytes !== null) return bytes
      const { v: _v, kind: _k, ...event } = n
      bytes = Buffer.from(JSON.stringify({ type: 'event', threadId: n.stream.startsWith('thread:') ? n.stream.slice(7) : null, event }))
      return bytes
    }
    for (const c of [...set]) this.#event(c, n, channel === channels.user(this.ctx.prefix, c.userId), frame)
  }

  #event(c: Conn, n: Notification & { kind: 'event' }, onUserChannel: boolean, frame: () => Buffer): void {
    const p = n.payload ?? {}
    const threadId = n.stream.startsWith('thread:') ? n.stream.slice(7) : null
    const aboutMe = p['userId'] === c.userId
    if (threadId !== null) {
      const joins = (n.type === 'ThreadCreated' && (p['members'] as string[] | undefined)?.includes(c.userId)) || (n.type === 'MemberAdded' && aboutMe)
      if (joins && !c.threads.has(threadId)) {
        c.threads.add(threadId)
        void this.#join(channels.thread(this.ctx.prefix, threadId), c)
        for (const u of (p['members'] as string[] | undefined) ?? []) if (u !== c.userId) c.contacts.add(u)
        if (n.type === 'MemberAdded') void this.ctx.d.read.members(threadId).then((ms) => { for (const x of ms) if (x.userId !== c.userId) c.contacts.add(x.userId) })
      }
      if (!c.threads.has(threadId)) return
      if (n.type === 'MemberAdded' && !aboutMe) c.contacts.add(p['userId'] as string)
      this.#forward(c, n, frame)
      if ((n.type === 'MemberRemoved' || n.type === 'MemberLeft') && aboutMe) {
        c.threads.delete(threadId)
        c.typingAt.delete(threadId)
        this.#leave(channels.thread(this.ctx.prefix, threadId), c)
      }
      return
    }
    if (!onUserChannel) return
    this.#forward(c, n, frame)
    if (n.type === 'DeviceKeyRotationDue' && p['deviceId'] === c.deviceId) this.send(c, { type: 'keyRotationDue', deviceId: c.deviceId, keyVersion: p['keyVersion'] })
    if (n.type === 'DeviceKeyExpired' && p['deviceId'] === c.deviceId) this.send(c, { type: 'keyExpired', deviceId: c.deviceId, keyVersion: p['keyVersion'] })
    if (n.type === 'DeviceRevoked' && p['deviceId'] === c.deviceId) this.end(c, 'deviceRevoked')
    else if (n.type === 'UserDisabled') this.end(c, 'userDisabled')
    else if (n.type === 'AccountDeleted') this.end(c, 'userDeleted')
  }

  #ephemeral(m: Record<string, unknown>): void {
    if (m['kind'] === 'typing') return this.#typing(m['threadId'], m['userId'])
    for (const c of this.conns) {
      if (m['kind'] === 'presence' && c.contacts.has(m['userId'] as string)) {
        this.send(c, { type: 'presence', userId: m['userId'], online: m['online'] })
      } else if (m['kind'] === 'sessionEnded' && m['sessionId'] === c.sessionId) {
        this.end(c, m['reason'] as string)
      }
    }
  }

  /** To the thread's members on this node only, through the thread's channel index. */
  #typing(threadId: unknown, userId: unknown): void {
    if (typeof threadId !== 'string') return
    const set = this.byChannel.get(channels.thread(this.ctx.prefix, threadId))
    if (set === undefined) return
    let frame: Buffer | null = null
    for (const c of set) {
      if (!c.threads.has(threadId) || c.userId === userId) continue
      frame ??= Buffer.from(JSON.stringify({ type: 'typing', threadId, userId }))
      this.#sendFrame(c, frame)
    }
  }

  async tick(): Promise<void> {
    for (const c of [...this.conns]) {
      if (!(await this.ctx.sessions.exists(c.sessionId))) {
        this.end(c, 'expired')
        continue
      }
      await this.ctx.d.redis.set(redisKeys.presence(this.ctx.prefix, c.userId), String(this.ctx.now()), 'EX', presenceTtlSeconds)
    }
  }

  async clientMessage(c: Conn, m: { type?: unknown; threadId?: unknown; id?: unknown }): Promise<void> {
    if (m.type === 'ping') return this.send(c, typeof m.id === 'string' ? { type: 'pong', id: m.id.slice(0, 64) } : { type: 'pong' })
    if (m.type === 'typing' && typeof m.threadId === 'string') {
      if (!c.threads.has(m.threadId)) return this.send(c, { type: 'error', code: 'ZIXT_ERR_NOT_MEMBER', message: 'threadId: not a member' })
      const now = this.ctx.now()
      if (now - (c.typingAt.get(m.threadId) ?? -Infinity) < typingIntervalMs) return // dropped silently: the last one still shows
      c.typingAt.set(m.threadId, now) // one entry per thread the connection is in
      await this.ctx.d.redis.set(redisKeys.typing(this.ctx.prefix, m.threadId, c.userId), c.deviceId, 'EX', typingTtlSeconds)
      await this.ctx.d.redis.publish(this.ephemeral, JSON.stringify({ kind: 'typing', threadId: m.threadId, userId: c.userId }))
      return
    }
    this.send(c, { type: 'error', code: 'ZIXT_ERR_SCHEMA', message: 'unknown message' })
  }

  close(): void {
    clearInterval(this.timer)
    for (const c of this.conns) c.ws.close(1001, 'server stopping')
    this.conns.clear()
  }
}

export function liveRoutes(app: FastifyInstance, ctx: Ctx, hub: LiveHub): void {
  app.get('/api/ws', {
    websocket: true,
    preValidation: async (req, reply) => {
      if (req.headers.origin !== ctx.config.origin) return reply.status(403).send({ error: { code: 'ZIXT_ERR_ORIGIN', message: 'ws: Origin not allowed' } })
    },
  }, (socket: WebSocket, req: FastifyRequest) => {
    let conn: Conn | null = null
    let authing = false
    let closed = false // the socket closed: a start() still awaiting must not add it (or must take it out again)
    const timeout = setTimeout(() => { if (conn === null) socket.close(4001, 'auth timeout') }, 10_000)
    const start = async (session: SessionRef): Promise<void> => {
      const [user, device] = await ctx.sessionAccount(session)
      if (closed) return
      if (user === null || device === null || user.disabled || user.deleted || device.revoked || device.expired) {
        socket.send(JSON.stringify({ type: 'sessionEnded', reason: 'unauthenticated' }))
        return socket.close(4001, 'unauthenticated')
      }
      clearTimeout(timeout)
      conn = { ws: socket, userId: user.userId, deviceId: device.deviceId, sessionId: session.id, threads: new Set(), contacts: new Set(), recent: [], recentSet: new Set(), typingAt: new Map() }
      await hub.add(conn)
      if (closed) {
        await hub.remove(conn) // closed while joining (a no-op if the close handler's remove() came first)
        return
      }
      hub.send(conn, { type: 'ready', userId: user.userId, deviceId: device.deviceId, position: await ctx.d.read.position() })
    }
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary || data.length > clientFrameBytesMax) return socket.close(1009, 'frame too large or binary')
      let m: { type?: unknown; ticket?: unknown }
      try {
        m = JSON.parse(data.toString('utf8')) as typeof m
      } catch {
        if (conn === null) return socket.close(4001, 'auth first')
        return socket.send(JSON.stringify({ type: 'error', code: 'ZIXT_ERR_SCHEMA', message: 'not JSON' }))
      }
      // null, arrays and scalars are valid JSON but no message: refuse them like any unknown one
      if (typeof m !== 'object' || m === null || Array.isArray(m)) {
        if (conn === null) return socket.close(4001, 'auth first')
        return socket.send(JSON.stringify({ type: 'error', code: 'ZIXT_ERR_SCHEMA', message: 'a message is a JSON object' }))
      }
      if (conn !== null) return void hub.clientMessage(conn, m as object).catch((e) => ctx.log(`ws: ${(e as Error).message}`))
      if (m.type !== 'auth' || typeof m.ticket !== 'string' || authing) return socket.close(4001, 'auth first')
      authing = true
      void (async () => {
        const id = await ctx.d.redis.getdel(`${ctx.prefix}wst:${(m.ticket as string).slice(0, 64)}`)
        const session = id === null || closed ? null : await sessionById(ctx.sessions, id)
        if (closed) return
        if (session === null) return socket.close(4001, 'bad ticket')
        await start(session)
      })().catch((e) => { ctx.log(`ws auth: ${(e as Error).message}`); socket.close(1011) })
    })
    socket.on('close', () => {
      closed = true
      clearTimeout(timeout)
      if (conn !== null) void hub.remove(conn)
    })
    socket.on('error', () => {})
    // A browser has the session cookie already: no ticket needed.
    void ctx.optionalAuth(req).then((a) => { if (a !== null && conn === null && !authing && !closed) { authing = true; return start(a.session) } }).catch(() => socket.close(1011))
  })
}
