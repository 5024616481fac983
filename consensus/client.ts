// The client side of consensus, used by ingest: submit a signed command, get its outcome
// once f+1 replicas reply the same (at least one of them is correct, and correct replicas
// only reply after the block is committed and on disk).
//
// It sends each command to every replica (so a faulty primary is noticed by the backups at
// once), retransmits to all on a timeout, and authenticates to the replicas with a service
// key listed in genesis (ML-DSA-65) over the same TLS 1.3 channel binding as the replicas.
import { decode, equalBytes, type Value } from '../domain/ledger/codec.ts'
import { eventFromValue } from '../domain/ledger/event.ts'
import { ErrorCode, ZixtError } from '../domain/errors.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import type { CommandResult } from './app.ts'
import { frameBytesMax } from './messages.ts'
import { dial, type Channel } from './net/channel.ts'
import { FrameTag } from './net/frame.ts'
import type { PeerDirectory } from './net/peers.ts'
import { decodeReply } from './reply.ts'

export type ClientOptions = {
  readonly peers: PeerDirectory
  readonly n: number
  readonly f: number
  readonly replicaKey: (index: number) => Uint8Array | readonly Uint8Array[] // ML-DSA-65 operational key(s) of a replica, read at each connect
  readonly keyId: string // this client's service key id in genesis
  readonly secretKey: Uint8Array // its ML-DSA-65 seed
  readonly crypto: CryptoFacade
  readonly commandId: (command: Uint8Array) => string | null
  readonly retransmitMs?: number
  readonly deadlineMs?: number // submit() gives up after this long
  readonly inflightMax?: number
  readonly log?: (message: string) => void
}

export type ConsensusClient = {
  submit(signedCommand: Uint8Array): Promise<CommandResult>
  connectedReplicas(): number
  close(): void
}

type Waiting = {
  readonly command: Uint8Array
  readonly replies: Map<number, Uint8Array> // replica → its encoded result
  readonly resolve: (r: CommandResult) => void
  readonly reject: (e: Error) => void
  readonly deadline: number
  nextRetransmit: number
}

export function decodeResult(bytes: Uint8Array): CommandResult {
  const v = decode(bytes) as { [k: string]: Value }
  if (v.kind === 'committed' && typeof v.height === 'number' && Array.isArray(v.events)) {
    return { kind: 'committed', height: v.height, events: (v.events as Value[]).map((e, i) => eventFromValue(e, `events[${i}]`)) }
  }
  if (v.kind === 'rejected' && typeof v.code === 'string' && typeof v.reason === 'string') return { kind: 'rejected', code: v.code, reason: v.reason }
  throw new ZixtError(ErrorCode.corrupt, 'reply: malformed result')
}

export function connectClient(o: ClientOptions): ConsensusClient {
  const retransmitMs = o.retransmitMs ?? 1000
  const deadlineMs = o.deadlineMs ?? 30_000
  const inflightMax = o.inflightMax ?? 100_000
  const channels = new Map<number, Channel>()
  const waiting = new Map<string, Waiting>()
  const dialing = new Set<number>()
  let closed = false

  const keys = {
    self: { role: 'client' as const, keyId: o.keyId },
    secretKey: o.secretKey,
    crypto: o.crypto,
    publicKeyOf: (p: { role: string; index?: number }) => (p.role === 'replica' && p.index !== undefined && p.index < o.n ? o.replicaKey(p.index) : null),
  }

  function onReply(replica: number, payload: Uint8Array): void {
    let r
    try {
      r = decodeReply(payload)
    } catch {
      return o.log?.(`replica ${replica}: malformed reply`)
    }
    const w = waiting.get(r.commandId)
    if (w === undefined || r.replica !== replica) return
    w.replies.set(replica, r.result)
    let same = 0
    for (const v of w.replies.values()) if (equalBytes(v, r.result)) same++
    if (same < o.f + 1) return
    waiting.delete(r.commandId)
    try {
      w.resolve(decodeResult(r.result))
    } catch (e) {
      w.reject(e as Error)
    }
  }

  async function connect(index: number): Promise<void> {
    if (closed || channels.has(index) || dialing.has(index)) return
    const addr = o.peers.lookup(index)
    if (addr === null) return
    dialing.add(index)
    try {
      const ch = await dial({ host: addr.host, port: addr.port, keys, expect: { role: 'replica', index }, frameBytesMax })
      if (closed) return ch.close()
      channels.set(index, ch)
      ch.onFrame((tag, payload) => { if (tag === FrameTag.reply) onReply(index, payload) })
      ch.onClose(() => { if (channels.get(index) === ch) channels.delete(index) })
      // Anything still waiting goes to the replica that just came (back).
      for (const w of waiting.values()) ch.send(FrameTag.request, w.command)
    } catch (e) {
      o.log?.(`replica ${index}: ${(e as Error).message}`)
    } finally {
      dialing.delete(index)
    }
  }

  const connectAll = (): void => { for (let i = 0; i < o.n; i++) void connect(i) }
  connectAll()
  const timer = setInterval(() => {
    connectAll()
    const now = Date.now()
    for (const [id, w] of waiting) {
      if (now >= w.deadline) {
        waiting.delete(id)
        w.reject(new ZixtError(ErrorCode.unavailable, `command ${id}: no f+1 matching replies within ${deadlineMs} ms`, { commandId: id }))
      } else if (now >= w.nextRetransmit) {
        w.nextRetransmit = now + retransmitMs
        for (const ch of channels.values()) ch.send(FrameTag.request, w.command)
      }
    }
  }, Math.min(100, retransmitMs))
  timer.unref()

  return {
    submit(command) {
      const id = o.commandId(command)
      if (id === null) return Promise.reject(new ZixtError(ErrorCode.invalidArgument, 'submit: bytes are not a signed command'))
      if (closed) return Promise.reject(new ZixtError(ErrorCode.unavailable, 'submit: client closed'))
      const existing = waiting.get(id)
      if (existing !== undefined) {
        return new Promise((resolve, reject) => {
          const prev = { resolve: existing.resolve, reject: existing.reject }
          waiting.set(id, { ...existing, resolve: (r) => { prev.resolve(r); resolve(r) }, reject: (e) => { prev.reject(e); reject(e) } })
        })
      }
      if (waiting.size >= inflightMax) return Promise.reject(new ZixtError(ErrorCode.unavailable, `submit: ${inflightMax} commands already in flight`))
      return new Promise((resolve, reject) => {
        const now = Date.now()
        waiting.set(id, { command, replies: new Map(), resolve, reject, deadline: now + deadlineMs, nextRetransmit: now + retransmitMs })
        for (const ch of channels.values()) ch.send(FrameTag.request, command)
      })
    },
    connectedReplicas: () => channels.size,
    close() {
      closed = true
      clearInterval(timer)
      for (const ch of channels.values()) ch.close()
      for (const [id, w] of waiting) w.reject(new ZixtError(ErrorCode.unavailable, `command ${id}: client closed`))
      waiting.clear()
    },
  }
}
