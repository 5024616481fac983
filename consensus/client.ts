// The client side of consensus, used by ingest: submit a signed command, get its outcome
// once f+1 replicas reply the same (at least one of them is correct, and correct replicas
// only reply after the block is committed and on disk).
//
// It sends each command to every replica (so a faulty primary is noticed by the backups at
// once), retransmits to all on a timeout, and authenticates to the replicas with a service
// key listed in genesis (ML-DSA-65) over the same TLS 1.3 channel binding as the replicas.
//
// Retransmission: a command that timed out goes out again when the cluster seems to have
// lost it (a command submitted after it was answered first: overtaken). When nothing is
// answered at all (stalled), the oldest waiting commands go out again, 1, 2, 4, … per
// timeout until answers come. A command merely queued behind others waits: under a
// backlog longer than the timeout, retransmitting every waiting command to every replica
// cost the replicas and the client CPU that the backlog needed (consensus bench, 6,000
// commands at once, 3-s timeout: 451–467 commands/s, 540–552 without).
//
// Flow control: at most `windowMax` commands are out at the replicas unanswered; later ones
// wait here, in submission order, and go out as answers come. One that has waited half its
// deadline is not sent but rejected at once (shed; certainly not committed): sent so late it
// would mostly reach the replicas to be executed after its caller gave up, and under
// overload the window then filled with such commands and nothing was answered in time. A backlog held by every
// replica costs each of them memory and CPU per command (the queued commands, their parses,
// a larger heap to collect): 6,000 commands out at once cost 25–35 % more CPU per command
// than the same 6,000 sent 300 at a time (docs/benchmarks.md, 2026-12-05 second session).
// The window is two full blocks (batchCommandsMax 500): the one in flight and the next.
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
  readonly inflightMax?: number // submitted and not yet answered, sent or waiting here
  readonly windowMax?: number // of those, sent to the replicas and not yet answered
  readonly log?: (message: string) => void
}

export type ConsensusClient = {
  submit(signedCommand: Uint8Array): Promise<CommandResult>
  connectedReplicas(): number
  /** Commands sent again after a timeout, counted once per command and round (not per replica). */
  retransmissions(): number
  /** Unanswered commands: sent to the replicas (≤ windowMax), and held here for room in the window. */
  queued(): { readonly out: number; readonly held: number }
  /** Commands rejected without being sent: their turn came after half their deadline, or never came (overload). */
  shed(): number
  close(): void
}

type Waiting = {
  readonly id: string
  readonly command: Uint8Array
  readonly seq: number // submission order in this client
  sentAt: number // when it first went out; NaN while it waits for room in the window
  readonly replies: Map<number, Uint8Array> // replica → its encoded result
  resolve: (r: CommandResult) => void // a second submit of the same command chains onto these
  reject: (e: Error) => void
  readonly deadline: number
  nextRetransmit: number
}

/**
 * What the client has seen answered: the latest submission answered, when anything last
 * was, and the longest recent wait for an answer (gapMs: between two answers, or from a
 * command's submission to its answer when nothing was waiting before it), halving every
 * gapHalfLifeMs. Under a backlog, answers come a block at a time, so the gap is the block
 * time; idle, it is one command's latency.
 */
export type Progress = { readonly answeredSeqMax: number; readonly lastAnswerAt: number; readonly gapMs: number }

export const gapHalfLifeMs = 10_000

export function initialProgress(now: number): Progress {
  return { answeredSeqMax: -1, lastAnswerAt: now, gapMs: 0 }
}

/** Progress after command `seq`, submitted at sentAt, got its answer at now. */
export function answered(p: Progress, seq: number, sentAt: number, now: number): Progress {
  const gap = now - Math.max(p.lastAnswerAt, sentAt)
  const decayed = p.gapMs * 0.5 ** ((now - p.lastAnswerAt) / gapHalfLifeMs)
  return { answeredSeqMax: Math.max(p.answeredSeqMax, seq), lastAnswerAt: now, gapMs: Math.max(gap, decayed) }
}

/**
 * Replicas take one client's commands in the order they arrive, so while answers keep
 * coming for commands submitted before a waiting one, it is queued, not lost. A command
 * answered before an earlier one means the earlier one was dropped or missed somewhere.
 */
export function overtaken(seq: number, p: Progress): boolean {
  return p.answeredSeqMax > seq
}

/**
 * Nothing answered for a timeout and twice the longest recent gap: the primary is slow or
 * gone, or commands were lost. A block that takes longer than the timeout is not a stall.
 */
export function stalled(p: Progress, now: number, retransmitMs: number): boolean {
  return now - p.lastAnswerAt >= Math.max(retransmitMs, 2 * p.gapMs)
}

/**
 * How many of the oldest waiting commands go out again in the k-th round (k ≥ 0) of one
 * stall: 1, 2, 4, … A cluster that was only busy answers the first and the stall ends; one
 * that lost everything has everything again after log2(waiting) rounds.
 */
export function stallProbeSize(round: number): number {
  return 2 ** Math.min(round, 30)
}

export function decodeResult(bytes: Uint8Array): CommandResult {
  const v = decode(bytes) as { [k: string]: Value }
  if (v.kind === 'committed' && typeof v.height === 'number' && Array.isArray(v.events)) {
    return { kind: 'committed', height: v.height, events: (v.events as Value[]).map((e, i) => eventFromValue(e, `events[${i}]`)) }
  }
  if (v.kind === 'rejected' && typeof v.code === 'string' && typeof v.reason === 'string') return { kind: 'rejected', code: v.code, reason: v.reason }
  throw new ZixtError(ErrorCode.corrupt, 'reply: malformed result')
}

export const defaultWindowMax = 1_000

export function connectClient(o: ClientOptions): ConsensusClient {
  const retransmitMs = o.retransmitMs ?? 1000
  const deadlineMs = o.deadlineMs ?? 30_000
  const inflightMax = o.inflightMax ?? 100_000
  const windowMax = o.windowMax ?? defaultWindowMax
  const channels = new Map<number, Channel>()
  const waiting = new Map<string, Waiting>() // by command id, in submission order
  const held: Waiting[] = [] // not yet sent (no room in the window), in submission order
  let heldFrom = 0 // held[heldFrom] is the next to go
  let out = 0 // sent and not yet answered
  let shedCount = 0
  const dialing = new Set<number>()
  let closed = false
  let seq = 0
  let retransmitted = 0
  let progress = initialProgress(Date.now())
  let stall: { round: number; at: number; probes: number } | null = null // the current stall's latest probing round

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
    if (isOut(w)) progress = answered(progress, w.seq, w.sentAt, Date.now()) // (a held one can be answered to an earlier submission)
    settle(r.commandId, w)
    try {
      w.resolve(decodeResult(r.result))
    } catch (e) {
      w.reject(e as Error)
    }
  }

  const isOut = (w: Waiting): boolean => !Number.isNaN(w.sentAt)

  /** Removes an answered or expired command; its place in the window goes to the next held one. */
  function settle(id: string, w: Waiting): void {
    waiting.delete(id)
    if (!isOut(w)) return // still in `held`: skipped when its turn comes
    out--
    sendHeld()
  }

  function sendHeld(): void {
    const now = Date.now()
    while (out < windowMax && heldFrom < held.length) {
      const w = held[heldFrom++]!
      if (waiting.get(w.id) !== w) continue // answered to an earlier submission, or expired
      if (w.deadline - now < deadlineMs / 2) {
        waiting.delete(w.id)
        shed(w, now)
        continue
      }
      send(w, now)
    }
    if (heldFrom > 1024 && heldFrom * 2 > held.length) {
      held.splice(0, heldFrom)
      heldFrom = 0
    }
  }

  function shed(w: Waiting, now: number): void {
    shedCount++
    w.reject(new ZixtError(ErrorCode.unavailable, `command ${w.id}: not sent, held ${now - (w.deadline - deadlineMs)} ms behind a full window of ${windowMax}; the cluster is overloaded`, { commandId: w.id, sent: false }))
  }

  function send(w: Waiting, now: number): void {
    w.sentAt = now
    w.nextRetransmit = now + retransmitMs
    out++
    for (const ch of channels.values()) ch.send(FrameTag.request, w.command)
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
      // Anything out and unanswered goes to the replica that just came (back).
      for (const w of waiting.values()) if (isOut(w)) ch.send(FrameTag.request, w.command)
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
    const resend = (w: Waiting): void => {
      w.nextRetransmit = now + retransmitMs
      retransmitted++
      for (const ch of channels.values()) ch.send(FrameTag.request, w.command)
    }
    if (!stalled(progress, now, retransmitMs)) stall = null
    else if (stall === null || now - stall.at >= retransmitMs) stall = { round: stall === null ? 0 : stall.round + 1, at: now, probes: 0 }
    for (const [id, w] of waiting) { // oldest first
      if (now >= w.deadline) {
        settle(id, w)
        if (!isOut(w)) shed(w, now)
        else w.reject(new ZixtError(ErrorCode.unavailable, `command ${id}: no f+1 matching replies within ${deadlineMs} ms`, { commandId: id }))
      } else if (!isOut(w)) continue
      else if (now >= w.nextRetransmit && overtaken(w.seq, progress)) resend(w)
      else if (stall !== null && stall.at === now && stall.probes < stallProbeSize(stall.round) && now - w.sentAt >= retransmitMs) {
        stall.probes++
        resend(w)
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
          existing.resolve = (r) => { prev.resolve(r); resolve(r) }
          existing.reject = (e) => { prev.reject(e); reject(e) }
        })
      }
      if (waiting.size >= inflightMax) return Promise.reject(new ZixtError(ErrorCode.unavailable, `submit: ${inflightMax} commands already in flight`))
      return new Promise((resolve, reject) => {
        const now = Date.now()
        const w: Waiting = { id, command, seq: seq++, sentAt: Number.NaN, replies: new Map(), resolve, reject, deadline: now + deadlineMs, nextRetransmit: Number.POSITIVE_INFINITY }
        waiting.set(id, w)
        if (out < windowMax && heldFrom === held.length) send(w, now)
        else held.push(w)
      })
    },
    connectedReplicas: () => channels.size,
    retransmissions: () => retransmitted,
    queued: () => ({ out, held: waiting.size - out }),
    shed: () => shedCount,
    close() {
      closed = true
      clearInterval(timer)
      for (const ch of channels.values()) ch.close()
      for (const [id, w] of waiting) w.reject(new ZixtError(ErrorCode.unavailable, `command ${id}: client closed`))
      waiting.clear()
      held.length = 0
      out = 0
    },
  }
}
