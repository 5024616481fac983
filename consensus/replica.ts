// The PBFT replica (Castro & Liskov, OSDI '99) as a state machine: step(state, input, now)
// → { state, effects }. It reads no clock (time comes in `now`), owns no socket, no timer and
// no disk: the shell (node.ts) or the simulator performs the effects and feeds back inputs.
//
// Shape of the protocol here:
// - One block in flight: the primary proposes height h+1 on top of the committed state h.
//   Commands that arrive while a block is in flight wait and form the next batch, so batches
//   grow with load (closed by batchCommandsMax) and a lone command goes out at once.
// - The pre-prepare carries the whole batch; every backup re-executes it and accepts only if
//   it gets the same block hash (which covers events, eventsRoot, treeRoot and header) and the
//   same rejections. Otherwise it suspects the primary and moves to a view change.
// - A commit carries a signature over commitMessage(headerView, height, blockHash); 2f+1 of
//   those from one view are the block's certificate, so a stored block proves itself to a
//   replica doing state transfer.
// - Prepares and commits are not signed: each travels over the TLS channel that authenticates
//   its sender, and is never forwarded (a commit carries its certificate signature, which is).
//   Per block that saves each backup one ML-DSA signature and the verification of the others'
//   prepares.
// - View change: each replica reports its last committed block (with certificate) and, for the
//   next height, the pre-prepare it prepared (signed by its primary) and every block it
//   pre-prepared, with the latest view. None of that proves a prepare quorum, so the new
//   primary decides by counting claims (Castro & Liskov, ACM TOCS 2002, BFT without signed
//   prepares; planNewView): re-propose a prepared block when 2f+1 reports do not contradict
//   it and f+1 pre-prepared it in that view or later, propose afresh when 2f+1 prepared
//   nothing, else wait for more view changes. f liars cannot satisfy either count alone.
//
// Ownership: step() takes the state by value in spirit but updates it in place for O(1)
// inputs; callers must use the returned state and drop the one they passed.
import type { Block, CommitSignature } from '../domain/ledger/envelope.ts'
import { equalBytes } from '../domain/ledger/codec.ts'
import { assert } from '../domain/assert.ts'
import type { App, CommandResult, Execution, ProtocolKeys } from './app.ts'
import type { ReplicaConfig } from './config.ts'
import {
  type Body, type Checkpoint, type Commit, type CommitProof, type NewView, type PrePrepare, type Prepare,
  type PrePrepared, type Signed, type ViewChange, decodeSigned, encodeBody, encodeSigned, prePreparedMax, proposalDigestInput,
} from './messages.ts'

export type Input =
  | { readonly kind: 'request'; readonly command: Uint8Array }
  | { readonly kind: 'message'; readonly from: number; readonly bytes: Uint8Array }
  | { readonly kind: 'tick' }
  | { readonly kind: 'persisted'; readonly height: number }
  | { readonly kind: 'blocksRead'; readonly to: number; readonly blocks: readonly Uint8Array[]; readonly agreedCount: number }

export type Effect =
  | { readonly kind: 'send'; readonly to: number; readonly bytes: Uint8Array }
  | { readonly kind: 'broadcast'; readonly bytes: Uint8Array }
  /**
   * Make the block durable. block.certificate is this replica's certificate for it: agreed
   * (the same on every correct replica) or only its own commit proof until a later block
   * agrees on one. `prev` is the agreed certificate of an earlier block, learned now.
   * `transferred`: taken in by state transfer (its rejections may not be answered yet).
   */
  | { readonly kind: 'persist'; readonly block: Block; readonly agreed: boolean; readonly prev: AgreedCertificate | null; readonly transferred: boolean }
  | { readonly kind: 'reply'; readonly commandId: string; readonly result: CommandResult; readonly view: number }
  /** Deliver a tick at `at` (the primary holds its next proposal until then); ticks at the usual interval also do. */
  | { readonly kind: 'wake'; readonly at: number }
  | { readonly kind: 'readBlocks'; readonly to: number; readonly from: number; readonly count: number }
  | { readonly kind: 'log'; readonly level: 'info' | 'warn'; readonly message: string }

export type AgreedCertificate = { readonly height: number; readonly certificate: readonly CommitSignature[] }

/** The last committed block; height -1 (and a zero hash) before the first block. */
export type Tip = { readonly height: number; readonly hash: Uint8Array; readonly time: number; readonly headerView: number; readonly certificate: readonly CommitSignature[] }

type Slot<S> = { readonly prePrepare: Signed; readonly body: PrePrepare; readonly proposalDigest: Uint8Array; readonly exec: Execution<S>; readonly acceptedAt: number; prepared: boolean; commitSent: boolean; probed: boolean }

/**
 * Our execution of a pre-prepare above the tip that rejects commands, and the commits seen for
 * exactly that proposal (block hash, header view, proposalDigest): view → replicas. Its
 * rejections may be answered for a block taken in by state transfer only once 2f+1 replicas
 * committed that proposal in one view (withOwnRejections).
 */
type Rejecting<S> = { readonly exec: Execution<S>; readonly headerView: number; readonly proposalDigest: Uint8Array; readonly commits: Map<number, Set<number>> }

type Votes = {
  height: number
  view: number
  prepares: Map<number, Signed> // replica → prepare
  commits: Map<number, { readonly commit: Commit; readonly cert: CommitSignature }>
}

export type Counters = { dropped: number; badSignature: number; viewChanges: number; committedBlocks: number; fetchedBlocks: number }

export type ReplicaState<S> = {
  readonly id: number
  readonly config: ReplicaConfig
  view: number
  mode: 'normal' | 'viewChange'
  app: S
  tip: Tip
  tipAgreed: boolean // tip.certificate is the agreed one (not only our own proof)
  learnedAgreed: AgreedCertificate | null // the tip's agreed certificate, learned by state transfer, not yet stored
  slot: Slot<S> | null
  votes: Votes
  preparedProof: { readonly prePrepare: Signed; readonly height: number; readonly view: number; readonly proposalDigest: Uint8Array } | null
  prePrepared: { height: number; blocks: PrePrepared[] } // what we pre-prepared at `height` (tip + 1), latest view per block
  rejecting: Rejecting<S>[] // our executions of pre-prepares above the tip that reject commands (newest rejectingMax)
  pending: Map<string, Uint8Array> // commandId → command, arrival order
  early: Signed[] // messages for heights above the next one, or a new view waiting for catch-up
  viewChanges: Map<number, Map<number, Signed>> // new view → replica → view change
  viewHints: Map<number, Set<number>> // higher views seen in normal-case messages → senders
  deadline: number | null // when the current primary (or view change) is considered failed
  viewChangeAttempts: number
  checkpoints: Map<number, Map<number, Uint8Array>> // height → replica → block hash
  stable: { height: number; hash: Uint8Array }
  results: RecentResults // recent results, to answer retransmissions
  unpersisted: Map<number, Execution<S>['results']>
  checkpointHashes: Map<number, Uint8Array> // committed, not yet persisted checkpoint heights
  reproposal: Signed | null // a new view's re-proposal waiting until we caught up
  speculation: { readonly view: number; readonly batch: readonly Uint8Array[]; readonly ids: readonly string[]; readonly exec: Execution<S> } | null
  persistedHeight: number
  fetching: { peer: number; at: number; from: number; target: number; probe: boolean; tries: number } | null
  probedOnStart: boolean // the probe for newer blocks a replica sends once it starts has gone out
  probedFor: number | null // the deadline before which we probed (once per deadline)
  lagHints: Map<number, number> // replica → highest height it showed it is working on
  certified: number // highest height we hold a commit proof for (view change, new view)
  resend: { at: number; messages: Uint8Array[] } // our messages for the block in flight, re-sent while it stalls
  lastProposalAt: number // when we last proposed a block (proposeIntervalMs counts from here)
  recentCommits: Map<number, Uint8Array> // height → our commit there (the newest recentCommitsMax), for peers that missed it
  awaiting: Rejecting<S>[] // rejecting executions of blocks taken in by state transfer, waiting for 2f+1 commits (newest rejectingMax)
  tipVerified: Map<number, Uint8Array> // replica → its certificate signature over the tip, already verified
  counters: Counters
}

export type Env<S> = { readonly app: App<S>; readonly keys: ProtocolKeys }

export function primaryOf(view: number, n: number): number {
  return view % n
}

export function initialReplica<S>(id: number, config: ReplicaConfig, app: S, tip: Tip): ReplicaState<S> {
  assert(config.n === 3 * config.f + 1, 'n = 3f+1')
  assert(id >= 0 && id < config.n, 'replica id in range')
  return {
    id, config, view: 0, mode: 'normal', app, tip, tipAgreed: false, learnedAgreed: null, slot: null,
    votes: { height: tip.height + 1, view: 0, prepares: new Map(), commits: new Map() },
    preparedProof: null, prePrepared: { height: tip.height + 1, blocks: [] }, rejecting: [], pending: new Map(), early: [], viewChanges: new Map(), viewHints: new Map(),
    deadline: null, viewChangeAttempts: 0, checkpoints: new Map(), stable: { height: tip.height, hash: tip.hash },
    results: { byId: new Map(), bytes: 0 }, unpersisted: new Map(), checkpointHashes: new Map(), reproposal: null, speculation: null, persistedHeight: tip.height, fetching: null, probedOnStart: false, probedFor: null, lagHints: new Map(), certified: tip.height, resend: { at: 0, messages: [] }, lastProposalAt: Number.NEGATIVE_INFINITY, recentCommits: new Map(), awaiting: [], tipVerified: new Map(),
    counters: { dropped: 0, badSignature: 0, viewChanges: 0, committedBlocks: 0, fetchedBlocks: 0 },
  }
}

export function step<S>(s: ReplicaState<S>, input: Input, now: number, env: Env<S>): { state: ReplicaState<S>; effects: Effect[] } {
  const fx: Effect[] = []
  const c: Ctx<S> = { s, now, env, fx }
  const hadSlot = s.slot !== null
  switch (input.kind) {
    case 'request': onRequest(c, input.command); break
    case 'message': onMessage(c, input.from, input.bytes); break
    case 'tick': onTick(c); break
    case 'persisted': onPersisted(c, input.height); break
    case 'blocksRead': sign(c, { type: 'blocks', blocks: input.blocks, agreedCount: input.agreedCount }, input.to); break
  }
  maybePropose(c, !hadSlot || s.slot === null)
  return { state: s, effects: fx }
}

type Ctx<S> = { readonly s: ReplicaState<S>; readonly now: number; readonly env: Env<S>; readonly fx: Effect[] }

const quorum = (s: ReplicaState<unknown>): number => 2 * s.config.f + 1
const isPrimary = (s: ReplicaState<unknown>): boolean => primaryOf(s.view, s.config.n) === s.id

// Prepares and commits are never forwarded (view changes prove commitment with the
// certificate signatures commits carry, and report prepared blocks as claims), and every
// message arrives over a channel authenticated by the sender's operational key: neither is
// signed, and a commit's only signature is its certificate signature, checked on receipt.
// That saves two ML-DSA signatures per backup per block, and the prepares' verifications.
const unsigned = new Uint8Array(0)
const rejectingMax = 8 // our rejecting pre-prepares kept above the tip (views may bring several)
const rejectingViewsMax = 8 // views whose commits a rejecting proposal counts
const recentCommitsMax = 16
const channelOnly = (b: Body): boolean => b.type === 'prepare' || b.type === 'commit'

function sign<S>(c: Ctx<S>, body: Body, to?: number): Signed {
  const sig = channelOnly(body) ? unsigned : c.env.keys.sign(encodeBody(body))
  const signed: Signed = { from: c.s.id, body, sig }
  const bytes = encodeSigned(signed)
  c.fx.push(to === undefined ? { kind: 'broadcast', bytes } : { kind: 'send', to, bytes })
  if (to === undefined && body.type !== 'checkpoint') {
    // Kept for re-sending: a channel that was down (a peer restarting) loses what we sent.
    if (c.s.resend.messages.length === 0) c.s.resend.at = c.now
    if (c.s.resend.messages.length < 8) c.s.resend.messages.push(bytes)
  }
  return signed
}

function drop<S>(c: Ctx<S>, why: string): void {
  c.s.counters.dropped++
  c.fx.push({ kind: 'log', level: 'warn', message: why })
}

function verified<S>(c: Ctx<S>, m: Signed): boolean {
  if (m.from >= c.s.config.n) return false
  const ok = c.env.keys.verify(m.from, m.bodyBytes ?? encodeBody(m.body), m.sig)
  if (!ok) c.s.counters.badSignature++
  return ok
}

// ---- client requests ------------------------------------------------------------------

function onRequest<S>(c: Ctx<S>, command: Uint8Array): void {
  const { s } = c
  const id = c.env.app.commandId(command)
  if (id === null) return drop(c, 'request: not a command')
  const known = s.results.byId.get(id)
  if (known !== undefined) {
    c.fx.push({ kind: 'reply', commandId: id, result: known.result, view: s.view })
    // A client retransmits only while it lacks f+1 matching answers. For a rejection that
    // means fewer than f+1 replicas answered it: the others took its block in by state
    // transfer without 2f+1 commits of that proposal, or lost them in a crash. As primary we
    // order it again, if our state still rejects it (so a rejected command does not commit
    // later just because a client asked), and every replica executing that block answers.
    if (known.result.kind === 'rejected' && isPrimary(s) && s.mode === 'normal' && !s.pending.has(id) && s.pending.size < s.config.pendingCommandsMax && rejectedByOurState(c, [command]).has(id)) s.pending.set(id, command)
    return
  }
  // A retransmission of a command rejected in a block we took in by state transfer, whose
  // rejection waits for 2f+1 commits of our execution: ask the others again.
  const waiting = awaited(s, id)
  if (waiting !== undefined) askCommits(c, waiting)
  if (s.pending.has(id) || committedUnpersisted(s, id)) return
  if (s.pending.size >= s.config.pendingCommandsMax) return drop(c, 'request: pending queue full')
  s.pending.set(id, command)
  if (s.deadline === null && !isPrimary(s)) s.deadline = c.now + timeout(s)
}

function committedUnpersisted<S>(s: ReplicaState<S>, id: string): boolean {
  for (const results of s.unpersisted.values()) if (results.some((r) => r.commandId === id)) return true
  return false
}

function timeout(s: ReplicaState<unknown>): number {
  return s.config.viewTimeoutMs * 2 ** Math.min(s.viewChangeAttempts, 6)
}

// ---- proposing ------------------------------------------------------------------------

function maybePropose<S>(c: Ctx<S>, fresh: boolean): void {
  const { s } = c
  if (s.mode !== 'normal' || !isPrimary(s) || s.pending.size === 0 || transferring(s)) return
  if (s.slot !== null) {
    if (!fresh) speculate(c, s.slot)
    return
  }
  if (s.votes.height !== s.tip.height + 1) return
  const holdUntil = s.lastProposalAt + s.config.proposeIntervalMs
  if (c.now < holdUntil && s.pending.size < s.config.batchCommandsMax) return void c.fx.push({ kind: 'wake', at: holdUntil })
  const spec = s.speculation
  s.speculation = null
  if (spec !== null && spec.view === s.view && equalBytes(spec.exec.block.header.prevBlockHash, s.tip.hash) && spec.ids.every((id) => s.pending.has(id))) {
    // Commands that arrived after the speculation join its block (executed on top of it),
    // so they do not wait for the block after.
    const inSpec = new Set(spec.ids)
    const more: Uint8Array[] = []
    for (const [id, cmd] of s.pending) {
      if (spec.batch.length + more.length >= s.config.batchCommandsMax) break
      if (!inSpec.has(id)) more.push(cmd)
    }
    const header = spec.exec.block.header
    if (more.length === 0) return void propose(c, spec.batch, header.time, s.view, s.id, spec.exec)
    if (c.env.app.extend !== undefined) {
      const meta = { height: header.height, headerView: s.view, time: header.time, proposer: s.id, prevBlockHash: s.tip.hash }
      return void propose(c, [...spec.batch, ...more], header.time, s.view, s.id, c.env.app.extend(s.app, spec.exec, more, meta))
    }
  }
  const batch: Uint8Array[] = []
  for (const cmd of s.pending.values()) {
    if (batch.length >= s.config.batchCommandsMax) break
    batch.push(cmd)
  }
  const time = Math.max(c.now, s.tip.time)
  propose(c, batch, time, s.view, s.id)
}

/**
 * While our block is out for prepares and commits, the primary executes the next batch on
 * the state that block will produce, so the next pre-prepare leaves the moment this one
 * commits (execution is most of a backup's work too: overlapping it keeps both cores busy).
 * Never in the step that sent the pre-prepare, which would hold that message back.
 */
function speculate<S>(c: Ctx<S>, slot: Slot<S>): void {
  const { s } = c
  if (s.speculation !== null || slot.body.proposer !== s.id || slot.body.view !== s.view) return
  const inSlot = new Set(slot.exec.results.map((r) => r.commandId))
  const batch: Uint8Array[] = []
  const ids: string[] = []
  for (const [id, cmd] of s.pending) {
    if (batch.length >= s.config.batchCommandsMax) break
    if (inSlot.has(id)) continue
    batch.push(cmd)
    ids.push(id)
  }
  if (batch.length === 0) return
  const header = slot.exec.block.header
  const time = Math.max(c.now, header.time)
  const exec = c.env.app.execute(slot.exec.state, batch, { height: header.height + 1, headerView: s.view, time, proposer: s.id, prevBlockHash: slot.exec.blockHash })
  s.speculation = { view: s.view, batch, ids, exec }
}

function propose<S>(c: Ctx<S>, batch: readonly Uint8Array[], time: number, headerView: number, proposer: number, precomputed?: Execution<S>): Signed {
  const { s } = c
  const height = s.tip.height + 1
  const exec = precomputed ?? c.env.app.execute(s.app, batch, { height, headerView, time, proposer, prevBlockHash: s.tip.hash })
  const body: PrePrepare = {
    type: 'prePrepare', view: s.view, height, time, headerView, proposer, batch, blockHash: exec.blockHash,
    rejected: rejectionsOf(exec), prevCertificate: s.tip.certificate,
  }
  const signed = sign(c, body)
  s.lastProposalAt = c.now
  acceptPrePrepare(c, signed, body, exec)
  return signed
}

function rejectionsOf<S>(exec: Execution<S>): { commandId: string; code: string }[] {
  const out: { commandId: string; code: string }[] = []
  for (const r of exec.results) if (r.result.kind === 'rejected') out.push({ commandId: r.commandId, code: r.result.code })
  return out
}

// ---- incoming protocol messages -------------------------------------------------------

function onMessage<S>(c: Ctx<S>, from: number, bytes: Uint8Array): void {
  let m: Signed
  try {
    m = decodeSigned(bytes)
  } catch (e) {
    return drop(c, `from ${from}: malformed message: ${(e as Error).message}`)
  }
  if (m.from !== from || from === c.s.id) return drop(c, `from ${from}: claims to be ${m.from}`)
  // A prepare that cannot count (2f of the 3 other prepares suffice) only shows the peer may
  // lack our commit, and answering that with our own commit is safe whoever sent it.
  if (m.body.type === 'prepare' && cannotCount(c.s, m.body)) return void future(c, m, m.body.view, m.body.height)
  if (!channelOnly(m.body) && !verified(c, m)) return drop(c, `from ${from}: bad signature on ${m.body.type}`)
  dispatch(c, m)
}

/** A prepare of this view for a committed height, or for the slot we already prepared. */
function cannotCount(s: ReplicaState<unknown>, b: Prepare): boolean {
  if (s.mode !== 'normal' || b.view !== s.view) return false
  if (b.height <= s.tip.height) return true
  return b.height === s.tip.height + 1 && s.slot !== null && s.slot.prepared && s.votes.view === s.view && s.votes.height === b.height
}

function dispatch<S>(c: Ctx<S>, m: Signed): void {
  const b = m.body
  switch (b.type) {
    case 'prePrepare': return onPrePrepare(c, m, b)
    case 'prepare': return onPrepare(c, m, b)
    case 'commit': return onCommit(c, m, b)
    case 'checkpoint': return onCheckpoint(c, m.from, b)
    case 'viewChange': return onViewChange(c, m, b)
    case 'newView': return onNewView(c, m, b)
    case 'fetch': {
      const count = Math.min(b.count, c.s.config.fetchBlocksMax)
      if (b.from <= c.s.persistedHeight && count > 0) c.fx.push({ kind: 'readBlocks', to: m.from, from: b.from, count: Math.min(count, c.s.persistedHeight - b.from + 1) })
      else sign(c, { type: 'blocks', blocks: [], agreedCount: 0 }, m.from) // nothing newer, said: so silence means the request or its answer was lost
      return
    }
    case 'blocks': return onBlocks(c, m.from, b.blocks, b.agreedCount)
  }
}

/** Normal-case message for a later height or view: remember it and maybe notice we lag. */
function future<S>(c: Ctx<S>, m: Signed, view: number, height: number): boolean {
  const { s } = c
  const ours = height <= s.tip.height && (m.body.type === 'prepare' || m.body.type === 'prePrepare') ? s.recentCommits.get(height) : undefined
  if (ours !== undefined) {
    // The peer still works on a block we committed, or asks for the commits of one it took in
    // by state transfer (withOwnRejections): it may lack our commit. (Never answered to a
    // commit, so two replicas cannot keep answering each other.)
    c.fx.push({ kind: 'send', to: m.from, bytes: ours })
  }
  if (view > s.view || (view === s.view && s.mode === 'viewChange')) noteViewHint(c, m.from, view)
  if (height <= s.tip.height + 1 && view === s.view && s.mode === 'normal') return false
  if (height > s.tip.height + 1) {
    s.lagHints.set(m.from, Math.max(s.lagHints.get(m.from) ?? 0, height - 1))
    maybeFetch(c)
  }
  if (height > s.tip.height + 1 && height <= s.tip.height + s.config.futureHeightsMax && view >= s.view) {
    if (s.early.length < s.config.n * 4 * s.config.futureHeightsMax) s.early.push(m)
  }
  return true
}

function noteViewHint<S>(c: Ctx<S>, from: number, view: number): void {
  const { s } = c
  if (view > s.view + 64) return
  const set = s.viewHints.get(view) ?? new Set<number>()
  set.add(from)
  s.viewHints.set(view, set)
  // f+1 replicas working in a later view: at least one correct replica installed it (a
  // restarted replica starts in view 0 and joins this way).
  if (set.size >= s.config.f + 1) {
    c.fx.push({ kind: 'log', level: 'info', message: `joining view ${view} seen from ${set.size} replicas` })
    enterView(c, view)
  }
}

function enterView<S>(c: Ctx<S>, view: number): void {
  const { s } = c
  s.resend = { at: c.now, messages: [] }
  s.speculation = null
  s.view = view
  s.mode = 'normal'
  s.slot = null
  s.votes = { height: s.tip.height + 1, view, prepares: new Map(), commits: new Map() }
  for (const v of s.viewHints.keys()) if (v <= view) s.viewHints.delete(v)
  for (const v of s.viewChanges.keys()) if (v <= view) s.viewChanges.delete(v)
  s.viewChangeAttempts = 0
  s.deadline = s.pending.size > 0 && !isPrimary(s) ? c.now + timeout(s) : null
}

function onPrePrepare<S>(c: Ctx<S>, m: Signed, b: PrePrepare): void {
  const { s } = c
  if (future(c, m, b.view, b.height)) return
  if (s.mode !== 'normal' || b.view !== s.view || b.height !== s.tip.height + 1) return
  if (m.from !== primaryOf(b.view, s.config.n)) return drop(c, `pre-prepare from non-primary ${m.from}`)
  if (s.slot !== null) {
    if (!equalBytes(s.slot.body.blockHash, b.blockHash)) suspect(c, `primary ${m.from} equivocated at height ${b.height}`)
    return
  }
  if (b.headerView !== b.view || b.proposer !== m.from) return suspect(c, 'pre-prepare with foreign header view or proposer')
  if (b.time < s.tip.time || Math.abs(b.time - c.now) > s.config.timeSkewMs) return suspect(c, `pre-prepare time ${b.time} out of bounds`)
  checkAndAccept(c, m, b)
}

/** Re-execute the batch; accept only an identical block. */
function checkAndAccept<S>(c: Ctx<S>, m: Signed, b: PrePrepare): void {
  const { s } = c
  if (b.batch.length > s.config.batchCommandsMax || b.batch.length === 0) return suspect(c, `pre-prepare batch of ${b.batch.length}`)
  const ids = new Set<string>()
  for (const cmd of b.batch) {
    const id = c.env.app.commandId(cmd)
    if (id === null || ids.has(id)) return suspect(c, 'pre-prepare with a non-command or a duplicate')
    ids.add(id)
  }
  let exec: Execution<S>
  try {
    exec = c.env.app.execute(s.app, b.batch, { height: b.height, headerView: b.headerView, time: b.time, proposer: b.proposer, prevBlockHash: s.tip.hash })
  } catch (e) {
    return suspect(c, `pre-prepare batch does not execute: ${(e as Error).message}`)
  }
  if (!equalBytes(exec.blockHash, b.blockHash)) return suspect(c, `pre-prepare block hash differs from re-execution at height ${b.height}`)
  const mine = rejectionsOf(exec)
  const same = mine.length === b.rejected.length && mine.every((r, i) => r.commandId === b.rejected[i]!.commandId && r.code === b.rejected[i]!.code)
  if (!same) return suspect(c, 'pre-prepare rejections differ from re-execution')
  if (!prevCertificateValid(c, b)) return suspect(c, `pre-prepare carries no valid certificate of height ${b.height - 1}`)
  acceptPrePrepare(c, m, b, exec)
  if (!isPrimary(s)) {
    const own = sign(c, { type: 'prepare', view: s.view, height: b.height, blockHash: b.blockHash, proposalDigest: c.s.slot!.proposalDigest })
    s.votes.prepares.set(s.id, own) // our own prepare counts toward the 2f (PBFT §4.2)
  }
  // The primary just showed it is alive and proposing: the block gets a whole timeout from
  // here to commit. Counting from the last commit instead made an overloaded but correct
  // primary look faulty (a 500-command block re-executed on a busy machine takes a second),
  // and the view changes that followed only added work. A primary that proposes and then
  // stalls is still suspected one timeout later.
  s.deadline = c.now + timeout(s)
  checkQuorums(c)
}

/** The certificate of the tip the pre-prepare carries (it extends our tip: checked by re-execution). */
function prevCertificateValid<S>(c: Ctx<S>, b: PrePrepare): boolean {
  const { s } = c
  if (b.height === 0) return b.prevCertificate.length === 0
  return certificateValid(c, s.tip.headerView, s.tip.height, s.tip.hash, b.prevCertificate, s.tipVerified)
}

function proposalDigestOf<S>(c: Ctx<S>, b: PrePrepare): Uint8Array {
  return c.env.app.digest(proposalDigestInput(b))
}

function acceptPrePrepare<S>(c: Ctx<S>, m: Signed, b: PrePrepare, exec: Execution<S>): void {
  const proposalDigest = proposalDigestOf(c, b)
  c.s.slot = { prePrepare: m, body: b, proposalDigest, exec, acceptedAt: c.now, prepared: false, commitSent: false, probed: false }
  notePrePrepared(c.s, b.height, { view: b.view, blockHash: b.blockHash, proposalDigest })
  if (b.rejected.length > 0) {
    // A re-proposal in a later view is the same proposal: the commits seen for it still count.
    const seen = c.s.rejecting.find((e) => isProposal(e, { blockHash: exec.blockHash, headerView: b.headerView, proposalDigest }))
    const entry: Rejecting<S> = { exec, headerView: b.headerView, proposalDigest, commits: seen?.commits ?? new Map() }
    c.s.rejecting = [...c.s.rejecting.filter((e) => e !== seen), entry].slice(-rejectingMax)
  }
  replayEarly(c)
}

/** Castro's Q for the next height: each block we pre-prepared there, with the latest view (the newest prePreparedMax). */
function notePrePrepared(s: ReplicaState<unknown>, height: number, p: PrePrepared): void {
  if (s.prePrepared.height !== height) s.prePrepared = { height, blocks: [] }
  const others = s.prePrepared.blocks.filter((q) => !sameBlock(q, p))
  s.prePrepared.blocks = [...others, p].slice(-prePreparedMax)
}

const sameBlock = (a: { readonly blockHash: Uint8Array; readonly proposalDigest: Uint8Array }, b: { readonly blockHash: Uint8Array; readonly proposalDigest: Uint8Array }): boolean =>
  equalBytes(a.blockHash, b.blockHash) && equalBytes(a.proposalDigest, b.proposalDigest)

function onPrepare<S>(c: Ctx<S>, m: Signed, b: Prepare): void {
  const { s } = c
  if (future(c, m, b.view, b.height)) return
  if (s.mode !== 'normal' || b.view !== s.view || b.height !== s.tip.height + 1) return
  if (m.from === primaryOf(b.view, s.config.n)) return drop(c, 'prepare from the primary')
  s.votes.prepares.set(m.from, m)
  checkQuorums(c)
}

function onCommit<S>(c: Ctx<S>, m: Signed, b: Commit): void {
  const { s } = c
  const counts = !future(c, m, b.view, b.height) && b.height === s.tip.height + 1
  // A commit for one of our rejecting proposals is noted in any view and mode: it may be what
  // later lets us answer the rejections of a block we take in by state transfer.
  const rejecting = b.height === s.tip.height + 1 ? s.rejecting.find((e) => isProposal(e, b))
    : b.height <= s.tip.height ? s.awaiting.find((e) => e.exec.block.header.height === b.height && isProposal(e, b)) : undefined
  if (!counts && rejecting === undefined) return
  const cert: CommitSignature = { replica: m.from, keyId: c.env.keys.keyIdOf(m.from, b.height), signature: b.certSig }
  if (!c.env.keys.verifyCommit(b.headerView, b.height, b.blockHash, cert)) return drop(c, `commit from ${m.from} with a bad certificate signature`)
  if (rejecting !== undefined) {
    noteCommitOf(rejecting, b.view, m.from)
    if (b.height <= s.tip.height && confirmed(s, rejecting)) answerAwaited(c, rejecting)
  }
  if (!counts) return
  s.votes.commits.set(m.from, { commit: b, cert })
  checkQuorums(c)
}

/** The rejecting execution is of this proposal (as a commit names it: block hash, header view, proposalDigest). */
const isProposal = (e: Rejecting<unknown>, p: { readonly blockHash: Uint8Array; readonly headerView: number; readonly proposalDigest: Uint8Array }): boolean =>
  e.headerView === p.headerView && sameBlock({ blockHash: e.exec.blockHash, proposalDigest: e.proposalDigest }, p)

const awaited = <S>(s: ReplicaState<S>, commandId: string): Rejecting<S> | undefined =>
  s.awaiting.find((e) => e.exec.results.some((r) => r.commandId === commandId && r.result.kind === 'rejected'))

const confirmed = (s: ReplicaState<unknown>, e: Rejecting<unknown>): boolean => [...e.commits.values()].some((r) => r.size >= quorum(s))

/** 2f+1 commits of the proposal we executed for a block we took in by state transfer: its rejections are the agreed ones. */
function answerAwaited<S>(c: Ctx<S>, e: Rejecting<S>): void {
  const { s } = c
  s.awaiting = s.awaiting.filter((a) => a !== e)
  for (const r of e.exec.results) {
    if (r.result.kind !== 'rejected') continue
    s.pending.delete(r.commandId)
    rememberResult(s.results, s.config, r.commandId, r.result, c.now)
    c.fx.push({ kind: 'reply', commandId: r.commandId, result: r.result, view: s.view })
  }
  if (s.pending.size === 0 && s.mode === 'normal') s.deadline = null
}

/** Asks the others for their commits of an awaited proposal: a prepare for it, which a replica that committed that height answers with its commit (future). */
function askCommits<S>(c: Ctx<S>, e: Rejecting<S>): void {
  const h = e.exec.block.header
  const ask: Prepare = { type: 'prepare', view: c.s.view, height: h.height, blockHash: e.exec.blockHash, proposalDigest: e.proposalDigest }
  c.fx.push({ kind: 'broadcast', bytes: encodeSigned({ from: c.s.id, body: ask, sig: unsigned }) })
}

function noteCommitOf(e: Rejecting<unknown>, view: number, replica: number): void {
  const replicas = e.commits.get(view) ?? new Set<number>()
  replicas.add(replica)
  e.commits.set(view, replicas)
  if (e.commits.size > rejectingViewsMax) e.commits.delete(Math.min(...e.commits.keys()))
}

function checkQuorums<S>(c: Ctx<S>): void {
  const { s } = c
  const slot = s.slot
  if (slot === null || s.votes.view !== s.view || s.votes.height !== slot.body.height) return
  if (!slot.prepared) {
    const matching = [...s.votes.prepares.values()].filter((p) => equalBytes((p.body as Prepare).blockHash, slot.body.blockHash) && equalBytes((p.body as Prepare).proposalDigest, slot.proposalDigest))
    if (matching.length >= 2 * s.config.f) {
      slot.prepared = true
      s.preparedProof = { prePrepare: slot.prePrepare, height: slot.body.height, view: s.view, proposalDigest: slot.proposalDigest }
    }
  }
  if (slot.prepared && !slot.commitSent) {
    slot.commitSent = true
    const cert = c.env.keys.signCommit(slot.body.headerView, slot.body.height, slot.body.blockHash)
    const body: Commit = { type: 'commit', view: s.view, height: slot.body.height, blockHash: slot.body.blockHash, headerView: slot.body.headerView, certSig: cert.signature, proposalDigest: slot.proposalDigest }
    const signed = sign(c, body)
    s.recentCommits.set(body.height, encodeSigned(signed))
    if (s.recentCommits.size > recentCommitsMax) s.recentCommits.delete(Math.min(...s.recentCommits.keys()))
    s.votes.commits.set(s.id, { commit: body, cert })
    const rejecting = s.rejecting.find((e) => e.exec === slot.exec)
    if (rejecting !== undefined) noteCommitOf(rejecting, s.view, s.id)
  }
  // 2f+1 commits for the block we hold prove that f+1 correct replicas prepared it, so it is
  // committed even if our own prepare quorum was lost on the way (PBFT committed predicate).
  const commits = [...s.votes.commits.values()].filter((v) => equalBytes(v.commit.blockHash, slot.body.blockHash) && v.commit.headerView === slot.body.headerView && equalBytes(v.commit.proposalDigest, slot.proposalDigest))
  if (commits.length < quorum(s)) return
  const certificate = commits.map((v) => v.cert).sort((a, b) => a.replica - b.replica).slice(0, quorum(s))
  const prev = slot.body.height > 0 ? { height: slot.body.height - 1, certificate: slot.body.prevCertificate } : null
  commitBlock(c, slot.exec, certificate, false, false, prev)
}

// ---- committing -----------------------------------------------------------------------

function commitBlock<S>(c: Ctx<S>, exec: Execution<S>, certificate: readonly CommitSignature[], transferred: boolean, agreed: boolean, prev: AgreedCertificate | null): void {
  const { s } = c
  const h = exec.block.header.height
  assert(h === s.tip.height + 1, 'commit in order')
  assert(equalBytes(exec.block.header.prevBlockHash, s.tip.hash), 'commit extends the tip')
  assert(prev === null || prev.height === s.tip.height, 'an agreed certificate arrives with the next block')
  const block: Block = { ...exec.block, certificate }
  const learned = s.learnedAgreed !== null && s.learnedAgreed.height === s.tip.height ? s.learnedAgreed : null
  s.learnedAgreed = null
  const agreedPrev = prev ?? (s.tipAgreed ? null : learned)
  s.app = exec.state
  s.tip = { height: h, hash: exec.blockHash, time: exec.block.header.time, headerView: exec.block.header.view, certificate }
  s.tipAgreed = agreed
  // Every signature here was verified: on receipt (onCommit, matching this block's hash and
  // header view), our own, or by certificateValid for a fetched block.
  s.tipVerified = new Map(certificate.map((sig) => [sig.replica, sig.signature]))
  if (!transferred) for (const [r, v] of s.votes.commits) if (v.commit.headerView === exec.block.header.view && equalBytes(v.commit.blockHash, exec.blockHash)) s.tipVerified.set(r, v.cert.signature)
  s.slot = null
  s.votes = { height: h + 1, view: s.view, prepares: new Map(), commits: new Map() }
  // A block taken in by state transfer while we change views keeps our view change going:
  // its re-sending and its deadline (dropping them left a replica waiting in the view change
  // for good, silent, while another waited for its view change: seed 932, silent rotating).
  const changingViews = s.mode === 'viewChange'
  if (!changingViews) s.resend = { at: c.now, messages: [] }
  if (h > 0 && h % s.config.checkpointInterval === 0) s.checkpointHashes.set(h, exec.blockHash)
  if (s.preparedProof !== null && s.preparedProof.height <= h) s.preparedProof = null
  if (s.prePrepared.height <= h) s.prePrepared = { height: h + 1, blocks: [] }
  if (s.rejecting.length > 0) s.rejecting = s.rejecting.filter((e) => e.exec.block.header.height > h)
  if (s.awaiting.length > 0) s.awaiting = s.awaiting.filter((e) => e.exec.block.header.height > h - recentCommitsMax) // the others keep no older commits
  for (const r of exec.results) s.pending.delete(r.commandId)
  s.unpersisted.set(h, exec.results)
  s.counters.committedBlocks++
  c.fx.push({ kind: 'persist', block, agreed, prev: agreedPrev, transferred })
  if (!changingViews) {
    s.viewChangeAttempts = 0
    s.deadline = s.pending.size > 0 && !isPrimary(s) ? c.now + timeout(s) : null
  }
  // Rotation is a view change every replica starts at the same height; a replica replaying
  // fetched blocks learns the current view from the others instead.
  if (!transferred && s.config.rotateEveryBlocks > 0 && h > 0 && h % s.config.rotateEveryBlocks === 0 && s.mode === 'normal') {
    c.fx.push({ kind: 'log', level: 'info', message: `rotating primary after height ${h}` })
    startViewChange(c, s.view + 1)
    return
  }
  replayEarly(c)
}

function replayEarly<S>(c: Ctx<S>): void {
  const { s } = c
  if (s.early.length === 0) return
  const keep: Signed[] = []
  const now: Signed[] = []
  for (const m of s.early) {
    const h = heightOf(m.body)
    if (h === null || h <= s.tip.height) continue
    if (h === s.tip.height + 1 || m.body.type === 'newView') now.push(m)
    else keep.push(m)
  }
  s.early = keep
  for (const m of now) dispatch(c, m)
}

function heightOf(b: Body): number | null {
  switch (b.type) {
    case 'prePrepare': case 'prepare': case 'commit': return b.height
    case 'newView': return Number.MAX_SAFE_INTEGER
    default: return null
  }
}

export type RecentResults = { readonly byId: Map<string, { readonly result: CommandResult; readonly bytes: number; readonly at: number }>; bytes: number }

type ResultsBounds = Pick<ReplicaConfig, 'resultsCacheMax' | 'resultsBytesMax' | 'resultsKeepMs'>

/**
 * Keeps a persisted command's result for retransmissions, within resultsCacheMax results,
 * about resultsBytesMax bytes (events carry whole ciphertexts: a count alone let 50,000
 * results of large messages hold gigabytes) and resultsKeepMs, oldest out first.
 */
export function rememberResult(r: RecentResults, config: ResultsBounds, commandId: string, result: CommandResult, now: number): void {
  const old = r.byId.get(commandId)
  if (old !== undefined) { r.byId.delete(commandId); r.bytes -= old.bytes }
  const bytes = approxBytes(result)
  r.byId.set(commandId, { result, bytes, at: now })
  r.bytes += bytes
  while (r.byId.size > config.resultsCacheMax || (r.bytes > config.resultsBytesMax && r.byId.size > 1)) dropOldestResult(r)
  forgetOldResults(r, config, now)
}

/**
 * Drops the results kept longer than resultsKeepMs (no client retransmits that late: its
 * deadline is shorter), so a quiet or slow cluster does not hold the byte budget forever.
 */
export function forgetOldResults(r: RecentResults, config: Pick<ReplicaConfig, 'resultsKeepMs'>, now: number): void {
  while (r.byId.size > 0 && now - r.byId.values().next().value!.at > config.resultsKeepMs) dropOldestResult(r)
}

function dropOldestResult(r: RecentResults): void {
  const [id, e] = r.byId.entries().next().value!
  r.byId.delete(id)
  r.bytes -= e.bytes
}

/** Rough heap bytes of a plain value: strings, byte arrays and a constant per field. */
export function approxBytes(v: unknown, depth = 0): number {
  if (typeof v === 'string') return 16 + v.length
  if (v === null || typeof v !== 'object') return 8
  if (ArrayBuffer.isView(v)) return 64 + v.byteLength
  if (depth > 8) return 64
  let n = 32
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += 8 + approxBytes(x, depth + 1)
  return n
}

function onPersisted<S>(c: Ctx<S>, height: number): void {
  const { s } = c
  const results = s.unpersisted.get(height)
  if (results === undefined) return
  s.unpersisted.delete(height)
  s.persistedHeight = Math.max(s.persistedHeight, height)
  for (const r of results) {
    rememberResult(s.results, s.config, r.commandId, r.result, c.now)
    c.fx.push({ kind: 'reply', commandId: r.commandId, result: r.result, view: s.view })
  }
  if (height > 0 && height % s.config.checkpointInterval === 0) {
    const hash = s.checkpointHashes.get(height)
    assert(hash !== undefined, `hash of height ${height} kept until persisted`)
    s.checkpointHashes.delete(height)
    const byReplica = s.checkpoints.get(height) ?? new Map<number, Uint8Array>()
    byReplica.set(s.id, hash)
    s.checkpoints.set(height, byReplica)
    sign(c, { type: 'checkpoint', height, blockHash: hash })
    maybeStable(c, height)
  }
}

// ---- checkpoints ----------------------------------------------------------------------

function onCheckpoint<S>(c: Ctx<S>, from: number, b: Checkpoint): void {
  const { s } = c
  if (b.height <= s.stable.height || b.height === 0 || b.height % s.config.checkpointInterval !== 0) return
  s.lagHints.set(from, Math.max(s.lagHints.get(from) ?? 0, b.height))
  const byReplica = s.checkpoints.get(b.height) ?? new Map<number, Uint8Array>()
  byReplica.set(from, b.blockHash)
  s.checkpoints.set(b.height, byReplica)
  if (s.checkpoints.size > 8) s.checkpoints.delete(Math.min(...s.checkpoints.keys()))
  maybeStable(c, b.height)
  maybeFetch(c)
}

function maybeStable<S>(c: Ctx<S>, height: number): void {
  const { s } = c
  const byReplica = s.checkpoints.get(height)
  if (byReplica === undefined) return
  const counts = new Map<string, { hash: Uint8Array; n: number }>()
  for (const h of byReplica.values()) {
    const k = Buffer.from(h).toString('hex')
    const e = counts.get(k) ?? { hash: h, n: 0 }
    e.n++
    counts.set(k, e)
  }
  for (const e of counts.values()) {
    if (e.n < quorum(s)) continue
    // Stable: 2f+1 replicas hold this block. Drop everything about lower heights.
    s.stable = { height, hash: e.hash }
    for (const h of s.checkpoints.keys()) if (h <= height) s.checkpoints.delete(h)
    s.early = s.early.filter((m) => (heightOf(m.body) ?? 0) > height)
  }
}

// ---- view change ----------------------------------------------------------------------

function suspect<S>(c: Ctx<S>, why: string): void {
  c.fx.push({ kind: 'log', level: 'warn', message: `suspecting primary ${primaryOf(c.s.view, c.s.config.n)}: ${why}` })
  startViewChange(c, c.s.view + 1)
}

function onTick<S>(c: Ctx<S>): void {
  const { s } = c
  forgetOldResults(s.results, s.config, c.now)
  const resendMs = Math.max(1, Math.floor(s.config.viewTimeoutMs / 4))
  if (s.resend.messages.length > 0 && c.now - s.resend.at >= resendMs) {
    s.resend.at = c.now
    for (const bytes of s.resend.messages) c.fx.push({ kind: 'broadcast', bytes })
  }
  // A probe (below) waits half a timeout for its answer; a state transfer a whole one.
  const probeMs = s.config.viewTimeoutMs / 2
  if (s.fetching !== null && c.now - s.fetching.at > (s.fetching.probe ? probeMs : s.config.viewTimeoutMs)) {
    const peer = (s.fetching.peer + 1) % s.config.n === s.id ? (s.fetching.peer + 2) % s.config.n : (s.fetching.peer + 1) % s.config.n
    const { probe: wasProbe, tries } = s.fetching
    s.fetching = null
    // A peer with nothing newer says so: no answer at all means the request or the answer was
    // lost (a restarted replica probes before its peers have redialled it) or the peer is
    // down. A probe asks the next peer, each at most once.
    if (!wasProbe) requestBlocks(c, peer)
    else if (tries < s.config.n - 1) requestBlocks(c, peer, true, tries + 1)
  }
  if (!s.probedOnStart && s.fetching === null && s.mode === 'normal') {
    // Just started: the others may have gone on while we were down and gone quiet since.
    return probe(c)
  }
  const slot = s.slot
  if (slot !== null && !slot.probed && s.fetching === null && s.mode === 'normal' && isPrimary(s) && c.now - slot.acceptedAt >= s.config.viewTimeoutMs) {
    // Our block has not committed within a view timeout: we may be behind. The others may
    // have committed this height already (those that took it in by state transfer have no
    // commit to send back) and, holding no pending command, never suspect us, so nothing
    // would tell us (seed 1152, splitRejections rotating: a re-proposal the others had
    // committed in the view before, a rejected command left unanswered). Probe once per block.
    slot.probed = true
    return probe(c)
  }
  if (s.deadline === null || s.fetching !== null) return
  if (s.slot === null && s.probedFor !== s.deadline && c.now >= s.deadline - probeMs) {
    // Nothing to prepare at the next height: we may just be behind a cluster that went quiet
    // (a replica that caught up to one block short of an idle cluster, or one whose peers
    // committed the commands it holds before they had redialled it after a restart, sees no
    // message that would tell it, and would suspect a correct primary alone, view after
    // view). Half a timeout before each deadline, ask the primary of our view (another one
    // each view-change attempt) for newer blocks; its answer (or its silence, and the next
    // peer's answer) comes by the deadline, so a faulty primary costs no extra time.
    s.probedFor = s.deadline
    return probe(c)
  }
  if (c.now < s.deadline) return
  if (s.mode === 'normal') return suspect(c, 'no progress before the view timeout')
  // PBFT §4.5.2: the timer that moves us on to the view after starts only once 2f+1 replicas
  // want this one. A replica that gave up on a view alone (it was cut off, or its peers had
  // not redialled it after a restart) waits here, re-sending its view change and catching up
  // by state transfer, instead of climbing views the others never reach (it would then sit
  // out every later agreement, spending the cluster's one fault, until they climbed as far).
  const wanting = s.viewChanges.get(s.view)?.size ?? 0
  if (wanting >= quorum(s)) return startViewChange(c, s.view + 1)
  c.fx.push({ kind: 'log', level: 'info', message: `view change to ${s.view}: ${wanting} of ${quorum(s)} replicas want it; waiting for more before moving on` })
  s.deadline = c.now + timeout(s)
  // Said again with what we hold now (a state transfer since may have moved our committed
  // tip, and a commit clears what we keep for re-sending).
  announceViewChange(c)
}

function commitProof<S>(s: ReplicaState<S>): CommitProof {
  return { height: s.tip.height, blockHash: s.tip.hash, headerView: s.tip.headerView, certificate: s.tip.certificate }
}

function startViewChange<S>(c: Ctx<S>, newView: number): void {
  const { s } = c
  s.counters.viewChanges++
  if (s.mode === 'viewChange') s.viewChangeAttempts++
  c.fx.push({ kind: 'log', level: 'info', message: `view change to ${newView} (attempt ${s.viewChangeAttempts}, committed ${s.tip.height})` })
  s.view = newView
  s.mode = 'viewChange'
  s.slot = null
  s.speculation = null
  s.votes = { height: s.tip.height + 1, view: newView, prepares: new Map(), commits: new Map() }
  s.deadline = c.now + timeout(s)
  announceViewChange(c)
}

/** Our view change for s.view, with what we hold now, broadcast and kept for re-sending. */
function announceViewChange<S>(c: Ctx<S>): void {
  const { s } = c
  s.resend = { at: c.now, messages: [] }
  const next = s.tip.height + 1
  const pp = s.preparedProof !== null && s.preparedProof.height === next ? s.preparedProof : null
  const body: ViewChange = {
    type: 'viewChange', newView: s.view, committed: commitProof(s),
    prepared: pp === null ? null : pp.prePrepare,
    prePrepared: prePreparedReport(c, next, pp),
  }
  const signed = sign(c, body)
  recordViewChange(c, signed, body)
}

/** Our pre-prepared blocks at `height`, the prepared one among them even if newer ones pushed it out. */
function prePreparedReport<S>(c: Ctx<S>, height: number, pp: ReplicaState<S>['preparedProof']): readonly PrePrepared[] {
  const blocks = c.s.prePrepared.height === height ? c.s.prePrepared.blocks : []
  if (pp === null || pp.prePrepare.body.type !== 'prePrepare') return blocks
  const mine = { view: pp.view, blockHash: pp.prePrepare.body.blockHash, proposalDigest: pp.proposalDigest }
  return blocks.some((q) => q.view >= mine.view && sameBlock(q, mine)) ? blocks : [...blocks.filter((q) => !sameBlock(q, mine)).slice(-(prePreparedMax - 1)), mine]
}

function onViewChange<S>(c: Ctx<S>, m: Signed, b: ViewChange): void {
  const { s } = c
  if (b.newView < s.view || (b.newView === s.view && s.mode === 'normal') || b.newView > s.view + 64) return
  const why = checkViewChange(c, b)
  if (why !== null) return drop(c, `bogus view change from ${m.from}: ${why}`)
  if (b.committed.height > s.tip.height) {
    s.lagHints.set(m.from, Math.max(s.lagHints.get(m.from) ?? 0, b.committed.height))
    s.certified = Math.max(s.certified, b.committed.height)
    maybeFetch(c)
  }
  const view = s.view
  recordViewChange(c, m, b)
  // The primary of our view has left it at a height we hold too: it will propose nothing more
  // here, so waiting for our timeout would only waste it (a faulty primary could force this
  // view change anyway by going silent). Typical case: a planned rotation that the primary
  // committed itself and we took in by state transfer (which rotates nobody): the primary
  // waits alone in the next view (seeds 143 and 381, replay rotating). Above our tip it is
  // most likely the rotation we are about to make ourselves, on our own commit.
  if (s.mode === 'normal' && s.view === view && b.newView > view && m.from === primaryOf(view, s.config.n) && b.committed.height <= s.tip.height) {
    suspect(c, `it left view ${view} for view ${b.newView} after height ${b.committed.height}`)
  }
}

function recordViewChange<S>(c: Ctx<S>, m: Signed, b: ViewChange): void {
  const { s } = c
  const set = s.viewChanges.get(b.newView) ?? new Map<number, Signed>()
  set.set(m.from, m)
  s.viewChanges.set(b.newView, set)
  // PBFT §4.5.2 liveness: f+1 replicas want a later view → join the smallest of them.
  // A replica already changing views counts itself: it is one of the f+1 (otherwise a
  // replica that gave up on a view alone and a group that left it later chase each other).
  if (b.newView > s.view || (b.newView === s.view && s.mode === 'normal')) {
    const later = [...s.viewChanges.entries()].filter(([v]) => v > s.view || (v === s.view && s.mode === 'normal'))
    const senders = new Set<number>()
    for (const [, vs] of later) for (const r of vs.keys()) senders.add(r)
    if (s.mode === 'viewChange') senders.add(s.id)
    if (senders.size >= s.config.f + 1) {
      const smallest = Math.min(...later.map(([v]) => v))
      startViewChange(c, smallest)
    }
  }
  maybeNewView(c)
}

/** null when the view change is well-formed and its proofs verify. */
function checkViewChange<S>(c: Ctx<S>, b: ViewChange): string | null {
  const { s } = c
  const cp = b.committed
  if (cp.height === -1) {
    if (cp.certificate.length !== 0) return 'genesis with a certificate'
  } else if (cp.height === s.tip.height && equalBytes(cp.blockHash, s.tip.hash)) {
    // our own committed tip: already verified
  } else if (!certificateValid(c, cp.headerView, cp.height, cp.blockHash, cp.certificate)) return 'committed proof does not verify'
  if (b.prePrepared.some((q) => q.view >= b.newView)) return 'pre-prepared in a view not yet left'
  if (b.prePrepared.some((q, i) => b.prePrepared.findIndex((o) => sameBlock(o, q)) !== i)) return 'a block pre-prepared twice'
  if (b.prepared === null) return null
  const pp = b.prepared
  if (pp.body.type !== 'prePrepare') return 'prepared claim without pre-prepare'
  const ppb = pp.body
  if (ppb.height !== cp.height + 1 || ppb.view >= b.newView) return 'prepared claim for the wrong height or view'
  if (pp.from !== primaryOf(ppb.view, s.config.n) || !verified(c, pp)) return 'prepared pre-prepare not signed by its primary'
  // whoever prepared a block pre-prepared it in that view or later
  const mine = { blockHash: ppb.blockHash, proposalDigest: proposalDigestOf(c, ppb) }
  if (!b.prePrepared.some((q) => q.view >= ppb.view && sameBlock(q, mine))) return 'prepared block not among the pre-prepared'
  return null
}

/**
 * `known`: signatures over this very block already verified (the commits we received for our
 * tip): the same bytes need no second ML-DSA verification (3 per pre-prepare otherwise).
 */
function certificateValid<S>(c: Ctx<S>, headerView: number, height: number, blockHash: Uint8Array, cert: readonly CommitSignature[], known?: ReadonlyMap<number, Uint8Array>): boolean {
  const seen = new Set<number>()
  for (const sig of cert) {
    if (sig.replica >= c.s.config.n || seen.has(sig.replica)) return false
    const checked = known?.get(sig.replica)
    const cached = checked !== undefined && sig.keyId === c.env.keys.keyIdOf(sig.replica, height) && equalBytes(checked, sig.signature)
    if (!cached && !c.env.keys.verifyCommit(headerView, height, blockHash, sig)) return false
    seen.add(sig.replica)
  }
  return seen.size >= quorum(c.s)
}

/**
 * What a new view proposes at maxCommitted + 1: `reproposal` (a prepared block, unchanged),
 * `fresh` (nothing was prepared: a new batch), or `wait` (the view changes so far decide
 * nothing: wait for more). Castro & Liskov's rules for view changes whose prepared claims
 * cannot be proven, with n ≥ 3f+1 and the reports in `vcs` from distinct replicas:
 * - a block B prepared in view v (some report's claim) is re-proposed when (A1) 2f+1 reports
 *   claim nothing prepared there, or a lower view, or B in v, and (A2) f+1 reports
 *   pre-prepared B in v or a later view;
 * - nothing is re-proposed when (B) 2f+1 reports claim nothing prepared there.
 * If B committed in view v, f+1 correct replicas prepared it and report B in v or later:
 * every 2f+1 reports hold one, so B is never outvoted (A1 for a block of a later view needs a
 * correct replica that pre-prepared it there, which only a new view choosing it allows) and
 * rule B never holds. A report committed below maxCommitted says nothing about that height.
 * The primary decides once the reports allow it; backups recompute the decision from the
 * reports the new view carries, so it is a function of those alone.
 */
export type NewViewPlan =
  | { readonly maxCommitted: number; readonly decision: 'reproposal'; readonly reproposal: PrePrepare }
  | { readonly maxCommitted: number; readonly decision: 'fresh' }
  | { readonly maxCommitted: number; readonly decision: 'wait' }

export function planNewView(vcs: readonly ViewChange[], f: number, digestOf: (pp: PrePrepare) => Uint8Array): NewViewPlan {
  let maxCommitted = -1
  for (const v of vcs) maxCommitted = Math.max(maxCommitted, v.committed.height)
  const at = (v: ViewChange) => v.committed.height === maxCommitted // reports about maxCommitted + 1
  const claims = vcs.map((v) => {
    const b = v.prepared?.body
    return b !== undefined && b.type === 'prePrepare' && at(v) && b.height === maxCommitted + 1 ? { view: b.view, blockHash: b.blockHash, proposalDigest: digestOf(b), body: b } : null
  })
  // the highest view first; one view's claims in byte order (two blocks prepared in one view
  // cannot both be true; the order only makes the choice the same everywhere)
  const candidates = claims.filter((x) => x !== null).sort((a, b) => b.view - a.view || Buffer.compare(a.blockHash, b.blockHash) || Buffer.compare(a.proposalDigest, b.proposalDigest))
  for (const cand of candidates) {
    const a1 = claims.filter((x) => x === null || x.view < cand.view || (x.view === cand.view && sameBlock(x, cand))).length
    const a2 = vcs.filter((v) => at(v) && v.prePrepared.some((q) => q.view >= cand.view && sameBlock(q, cand))).length
    if (a1 >= 2 * f + 1 && a2 >= f + 1) return { maxCommitted, decision: 'reproposal', reproposal: cand.body }
  }
  if (claims.filter((x) => x === null).length >= 2 * f + 1) return { maxCommitted, decision: 'fresh' }
  return { maxCommitted, decision: 'wait' }
}

function maybeNewView<S>(c: Ctx<S>): void {
  const { s } = c
  if (s.mode !== 'viewChange' || !isPrimary(s)) return
  const set = s.viewChanges.get(s.view)
  if (set === undefined || set.size < quorum(s) || !set.has(s.id)) return
  const chosen = [...set.values()].sort((a, b) => a.from - b.from)
  const plan = planNewView(chosen.map((m) => m.body as ViewChange), s.config.f, (pp) => proposalDigestOf(c, pp))
  if (plan.maxCommitted > s.tip.height) {
    maybeFetch(c)
    return // catch up first; the next input retries
  }
  if (plan.decision === 'wait') return // the next view change may decide it
  s.mode = 'normal'
  s.viewChangeAttempts = 0
  s.deadline = null
  s.votes = { height: s.tip.height + 1, view: s.view, prepares: new Map(), commits: new Map() }
  let pp: Signed | null = null
  if (plan.decision === 'reproposal' && plan.reproposal.height === s.tip.height + 1) {
    const r = plan.reproposal
    const body: PrePrepare = { ...r, view: s.view }
    pp = { from: s.id, body, sig: c.env.keys.sign(encodeBody(body)) }
  }
  const nv: NewView = { type: 'newView', view: s.view, viewChanges: chosen, prePrepare: pp ?? emptyPrePrepare(c) }
  sign(c, nv)
  c.fx.push({ kind: 'log', level: 'info', message: `new view ${s.view} (primary ${s.id}, height ${s.tip.height + 1}${pp ? ', re-proposed' : ''})` })
  for (const v of s.viewChanges.keys()) if (v <= s.view) s.viewChanges.delete(v)
  if (pp !== null) {
    const body = pp.body as PrePrepare
    const exec = c.env.app.execute(s.app, body.batch, { height: body.height, headerView: body.headerView, time: body.time, proposer: body.proposer, prevBlockHash: s.tip.hash })
    assert(equalBytes(exec.blockHash, body.blockHash), 'a prepared block re-executes to the same hash')
    acceptPrePrepare(c, pp, body, exec)
  }
}

/** A new view with nothing to re-propose carries a signed placeholder: an empty batch. */
function emptyPrePrepare<S>(c: Ctx<S>): Signed {
  const { s } = c
  const body: PrePrepare = { type: 'prePrepare', view: s.view, height: s.tip.height + 1, time: 0, headerView: s.view, proposer: s.id, batch: [], blockHash: new Uint8Array(32), rejected: [], prevCertificate: [] }
  return { from: s.id, body, sig: c.env.keys.sign(encodeBody(body)) }
}

function onNewView<S>(c: Ctx<S>, m: Signed, b: NewView): void {
  const { s } = c
  if (b.view < s.view || (b.view === s.view && s.mode === 'normal')) return
  if (m.from !== primaryOf(b.view, s.config.n)) return drop(c, `new view ${b.view} from non-primary ${m.from}`)
  const senders = new Set<number>()
  const vcs: ViewChange[] = []
  for (const v of b.viewChanges) {
    if (v.body.type !== 'viewChange' || v.body.newView !== b.view || senders.has(v.from)) return drop(c, 'new view: bad view change set')
    if (!verified(c, v) || checkViewChange(c, v.body) !== null) return drop(c, `new view: view change from ${v.from} does not verify`)
    senders.add(v.from)
    vcs.push(v.body)
  }
  if (senders.size < quorum(s)) return drop(c, 'new view: too few view changes')
  const plan = planNewView(vcs, s.config.f, (pp) => proposalDigestOf(c, pp))
  if (plan.decision === 'wait') return drop(c, 'new view: its view changes decide nothing')
  const pp = b.prePrepare
  if (pp.from !== m.from || pp.body.type !== 'prePrepare' || pp.body.view !== b.view || pp.body.height !== plan.maxCommitted + 1 || !verified(c, pp)) {
    return drop(c, 'new view: pre-prepare does not match the view')
  }
  const ppb = pp.body
  if (plan.decision === 'fresh') {
    if (ppb.batch.length !== 0) return drop(c, 'new view: fresh batch where nothing was prepared')
  } else {
    const r = plan.reproposal
    const same = equalBytes(r.blockHash, ppb.blockHash) && r.time === ppb.time && r.headerView === ppb.headerView && r.proposer === ppb.proposer && r.batch.length === ppb.batch.length &&
      equalBytes(proposalDigestOf(c, r), proposalDigestOf(c, ppb))
    if (!same) return drop(c, 'new view: re-proposal differs from the prepared block')
  }
  enterView(c, b.view)
  c.fx.push({ kind: 'log', level: 'info', message: `entered view ${b.view}` })
  if (plan.maxCommitted > s.tip.height) {
    s.lagHints.set(m.from, plan.maxCommitted)
    s.certified = Math.max(s.certified, plan.maxCommitted)
    if (ppb.batch.length > 0) s.reproposal = pp
    maybeFetch(c)
    return
  }
  if (ppb.batch.length > 0 && ppb.height === s.tip.height + 1) checkAndAccept(c, pp, ppb)
}

// ---- state transfer -------------------------------------------------------------------

function maybeFetch<S>(c: Ctx<S>): void {
  const { s } = c
  if (transferring(s)) return // a probe gives way to a real state transfer
  // Fetch when a stable checkpoint is ahead, when f+1 replicas show they are ahead, or one
  // shows it is at least two blocks ahead (one block ahead is the normal race of commits).
  const claims = [...s.lagHints.entries()].filter(([, h]) => h > s.tip.height).sort((a, b) => b[1] - a[1])
  const far = claims.length > 0 && claims[0]![1] >= s.tip.height + 2
  const proven = s.stable.height > s.tip.height || s.certified > s.tip.height
  if (!far && claims.length < s.config.f + 1 && !proven) return
  const peer = claims.length > 0 ? claims[0]![0] : (s.id + 1) % s.config.n
  requestBlocks(c, peer)
}

/**
 * After a state transfer (or a peer's word that there is nothing newer): a pending command
 * the blocks do not hold may have been rejected while we were not listening (a rejection is ordered by a pre-prepare, and a block
 * keeps only what committed), and the primary, which has answered it, never proposes it again:
 * kept, it would make us suspect a correct primary, alone, view after view. Our state now
 * tells: what it rejects is dropped; what would commit stays pending, and its deadline still
 * catches a primary that withholds it. (At worst a command our state rejects only for now is
 * not watched by this replica; the other backups still watch it.)
 */
function dropRejectedPending<S>(c: Ctx<S>): void {
  const { s } = c
  if (s.pending.size === 0) return
  let dropped = 0
  for (const id of rejectedByOurState(c, [...s.pending.values()].slice(0, s.config.batchCommandsMax))) if (!awaited(s, id) && s.pending.delete(id)) dropped++
  if (dropped > 0) c.fx.push({ kind: 'log', level: 'info', message: `state transfer: ${dropped} pending commands our state now rejects dropped` })
  if (s.pending.size === 0 && s.mode === 'normal') s.deadline = null
}

/** The commands our state would reject, executed in this order as the next block (none if the batch does not execute). */
function rejectedByOurState<S>(c: Ctx<S>, batch: readonly Uint8Array[]): Set<string> {
  const { s } = c
  try {
    const exec = c.env.app.execute(s.app, batch, { height: s.tip.height + 1, headerView: s.view, time: Math.max(c.now, s.tip.time), proposer: s.id, prevBlockHash: s.tip.hash })
    return new Set(exec.results.filter((r) => r.result.kind === 'rejected').map((r) => r.commandId))
  } catch {
    return new Set()
  }
}

/** Asks the primary (or, being it, the next replica) for blocks above our tip: on start, and half a timeout before each deadline. */
function probe<S>(c: Ctx<S>): void {
  const { s } = c
  s.probedOnStart = true
  const primary = primaryOf(s.view, s.config.n)
  requestBlocks(c, primary === s.id ? (s.id + 1) % s.config.n : primary, true)
}

/** A state transfer is under way (a probe for newer blocks does not count: it holds nothing up). */
function transferring(s: ReplicaState<unknown>): boolean {
  return s.fetching !== null && !s.fetching.probe
}

function requestBlocks<S>(c: Ctx<S>, peer: number, probe = false, tries = 1): void {
  const { s } = c
  // From our tip when we hold only our own proof for it: the answer brings its agreed certificate.
  const from = s.tipAgreed || s.tip.height < 0 ? s.tip.height + 1 : s.tip.height
  s.fetching = { peer, at: c.now, from, target: Math.max(s.stable.height, ...s.lagHints.values()), probe, tries }
  sign(c, { type: 'fetch', from, count: s.config.fetchBlocksMax }, peer)
}

function onBlocks<S>(c: Ctx<S>, from: number, blocks: readonly Uint8Array[], agreedCount: number): void {
  const { s } = c
  if (s.fetching === null || s.fetching.peer !== from) return
  // Not the answer to our request (a Byzantine peer replaying an old one): skipping our tip
  // would lose its agreed certificate for good. The real answer may still come, else the
  // fetch times out and goes to another peer.
  if (blocks.length > 0 && firstHeight(c, blocks[0]!) !== s.fetching.from) return drop(c, `state transfer from ${from}: blocks do not start at height ${s.fetching.from}`)
  const wasProbe = s.fetching.probe
  s.fetching = null
  if (blocks.length === 0) s.lagHints.delete(from) // by its own word it has nothing above our tip
  let applied = 0
  for (let i = 0; i < blocks.length; i++) {
    const why = applyFetched(c, blocks[i]!, i < agreedCount)
    if (why === 'old') continue
    if (why !== null) {
      drop(c, `state transfer from ${from}: ${why}`)
      s.lagHints.delete(from)
      break
    }
    applied++
  }
  s.counters.fetchedBlocks += applied
  if (applied > 0) c.fx.push({ kind: 'log', level: 'info', message: `state transfer: ${applied} blocks from ${from}, now at ${s.tip.height}` })
  for (const [r, h] of s.lagHints) if (h <= s.tip.height) s.lagHints.delete(r)
  if (applied > 0) maybeFetch(c)
  if (wasProbe && applied > 0 && s.fetching === null) requestBlocks(c, from, true) // a probe that brought blocks asks for more
  if (s.fetching === null) dropRejectedPending(c) // caught up as far as we know
  const r = s.reproposal
  if (r !== null && r.body.type === 'prePrepare' && !transferring(s)) {
    s.reproposal = null
    if (r.body.height === s.tip.height + 1 && r.body.view === s.view && s.mode === 'normal') checkAndAccept(c, r, r.body)
  }
  replayEarly(c)
  maybeNewView(c)
}

function firstHeight<S>(c: Ctx<S>, bytes: Uint8Array): number | null {
  try {
    return c.env.app.decodeBlock(bytes).header.height
  } catch {
    return null
  }
}

/** Verify a fetched block (hash chain, certificate, re-execution) and commit it. */
function applyFetched<S>(c: Ctx<S>, bytes: Uint8Array, agreed: boolean): string | null {
  const { s } = c
  let block: Block
  try {
    block = c.env.app.decodeBlock(bytes)
  } catch (e) {
    return `undecodable block: ${(e as Error).message}`
  }
  const h = block.header
  if (h.height === s.tip.height && agreed && !s.tipAgreed && equalBytes(c.env.app.blockHash(h), s.tip.hash) && certificateValid(c, h.view, h.height, s.tip.hash, block.certificate)) {
    // Our tip holds only our own proof: keep the agreed certificate to store with the next block.
    s.learnedAgreed = { height: h.height, certificate: block.certificate }
  }
  if (h.height <= s.tip.height) return 'old'
  if (h.height !== s.tip.height + 1 || !equalBytes(h.prevBlockHash, s.tip.hash)) return `block ${h.height} does not extend height ${s.tip.height}`
  const hash = c.env.app.blockHash(h)
  if (!certificateValid(c, h.view, h.height, hash, block.certificate)) return `block ${h.height}: certificate does not verify`
  let exec: Execution<S>
  try {
    exec = c.env.app.execute(s.app, block.commands, { height: h.height, headerView: h.view, time: h.time, proposer: h.proposer, prevBlockHash: s.tip.hash })
  } catch (e) {
    return `block ${h.height} does not execute: ${(e as Error).message}`
  }
  if (!equalBytes(exec.blockHash, hash)) return `block ${h.height}: re-execution gives a different block`
  if (exec.results.some((r) => r.result.kind === 'rejected')) return `block ${h.height}: contains a rejected command`
  s.slot = null
  commitBlock(c, withOwnRejections(c, exec), block.certificate, true, agreed, null)
  return null
}

/**
 * A fetched block keeps only what committed. If we executed a pre-prepare of this very block
 * (same hash, so the same tip, header and committed commands), its rejections are answered
 * too, once we hold 2f+1 commits of that same proposal (proposalDigest covers its
 * rejections) in one view: the replicas that executed the pre-prepare but took the block in
 * by state transfer (it committed while they were changing views, or they missed their
 * commit quorum) would otherwise leave the rejected command unanswered, and fewer than f+1
 * could answer it. The same hash alone is not enough: an equivocating primary can hand one
 * backup the block's batch plus a command that backup's state rejects (same block hash,
 * other rejections). Nor is our own prepared certificate: f correct replicas that sent
 * prepares without preparing report nothing prepared, and a view change can choose the other
 * proposal. 2f+1 commits in one view mean f+1 correct replicas prepared exactly this
 * proposal, and every later view keeps it. Without them yet, the execution waits in
 * `awaiting` and we ask the others for their commits of that height (askCommits; again on
 * each retransmission of a rejected command).
 */
function withOwnRejections<S>(c: Ctx<S>, fetched: Execution<S>): Execution<S> {
  const { s } = c
  const own = s.rejecting.find((e) => equalBytes(e.exec.blockHash, fetched.blockHash) && confirmed(s, e))
  if (own !== undefined) return { ...fetched, results: own.exec.results }
  for (const e of s.rejecting) {
    if (!equalBytes(e.exec.blockHash, fetched.blockHash)) continue
    s.awaiting = [...s.awaiting.filter((a) => a !== e), e].slice(-rejectingMax)
    askCommits(c, e)
  }
  return fetched
}
