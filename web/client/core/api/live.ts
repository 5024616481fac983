// Live events over ws (docs/api.md "Live events"): ticket auth, typing, ping, and
// reconnect with bounded backoff. Browser: the global WebSocket. Node: pass `open` (e.g. a
// `ws` WebSocket with an Origin header).
import type { ApiClient, EventJson } from './client.ts'

export type ServerMessage =
  | { type: 'ready'; userId: string; deviceId: string; position: number }
  | { type: 'event'; threadId: string | null; event: EventJson }
  | { type: 'typing'; threadId: string; userId: string }
  | { type: 'presence'; userId: string; online: boolean }
  | { type: 'keyRotationDue' | 'keyExpired'; deviceId: string; keyVersion: number }
  | { type: 'pong'; id?: string }
  | { type: 'sessionEnded'; reason: string }
  | { type: 'error'; code: string; message: string }

/** The subset of the WebSocket API used here (browser WebSocket, undici, and `ws` all fit). */
export type WebSocketLike = {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number }) => void) | null
  onerror: ((ev: unknown) => void) | null
}

export type LiveState = 'connecting' | 'ready' | 'reconnecting' | 'closed'

export type LiveOptions = {
  readonly api: ApiClient
  readonly url: string // ws(s)://host/api/ws
  readonly open?: (url: string) => WebSocketLike
  readonly onMessage: (m: ServerMessage) => void
  readonly onState?: (s: LiveState) => void
  readonly reconnect?: boolean // default true
  readonly reconnectDelaysMs?: readonly number[]
}

export type LiveConnection = {
  readonly state: () => LiveState
  typing(threadId: string): void
  ping(id?: string): void
  /** Resolves when the server said 'ready' (now, if it already did). */
  ready(): Promise<void>
  close(): void
}

export function connectLive(o: LiveOptions): LiveConnection {
  const delays = o.reconnectDelaysMs ?? [250, 500, 1000, 2000, 5000, 10_000]
  let socket: WebSocketLike | null = null
  let state: LiveState = 'connecting'
  let attempt = 0
  let closed = false
  let waiters: (() => void)[] = []
  const setState = (s: LiveState): void => {
    state = s
    o.onState?.(s)
    if (s === 'ready') {
      for (const w of waiters) w()
      waiters = []
    }
  }
  const open = o.open ?? ((url: string) => new (globalThis as unknown as { WebSocket: new (u: string) => WebSocketLike }).WebSocket(url))

  async function dial(): Promise<void> {
    if (closed) return
    let ticket: string
    try {
      ticket = (await o.api.wsTicket()).ticket
    } catch (e) {
      const code = (e as { status?: number }).status
      if (code === 401 || code === 403) {
        closed = true
        setState('closed')
        o.onMessage({ type: 'sessionEnded', reason: 'unauthenticated' })
        return
      }
      return retry()
    }
    if (closed) return
    const ws = open(o.url)
    socket = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', ticket }))
    ws.onmessage = (ev) => {
      let m: ServerMessage
      try {
        m = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)) as ServerMessage
      } catch {
        return
      }
      if (m.type === 'ready') {
        attempt = 0
        setState('ready')
      }
      if (m.type === 'sessionEnded') closed = true
      o.onMessage(m)
    }
    ws.onerror = () => {}
    ws.onclose = () => {
      if (socket === ws) socket = null
      if (closed || o.reconnect === false) {
        closed = true
        setState('closed')
        return
      }
      retry()
    }
  }

  function retry(): void {
    if (closed) return
    setState('reconnecting')
    const delay = delays[Math.min(attempt, delays.length - 1)]!
    attempt++
    setTimeout(() => void dial(), delay)
  }

  void dial()
  const send = (m: object): void => {
    if (socket !== null && socket.readyState === 1 && state === 'ready') socket.send(JSON.stringify(m))
  }
  return {
    state: () => state,
    typing: (threadId) => send({ type: 'typing', threadId }),
    ping: (id) => send(id === undefined ? { type: 'ping' } : { type: 'ping', id }),
    ready: () => (state === 'ready' ? Promise.resolve() : new Promise((r) => waiters.push(r))),
    close() {
      closed = true
      socket?.close(1000)
      setState('closed')
    },
  }
}
