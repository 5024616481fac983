// The replica shell: it owns the sockets, the timers and the disk, and drives the pure
// replica (replica.ts) with what happens. Everything the replica decides comes back as
// effects, performed here in order.
import type { Block, SignedTreeHead } from '../domain/ledger/envelope.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { decodeTreeHead, encodeTreeHead } from '../domain/ledger/treeHead.ts'
import type { App, CommandResult, ProtocolKeys } from './app.ts'
import { defaultReplicaConfig, type ReplicaConfig } from './config.ts'
import { decodeSigned, frameBytesMax } from './messages.ts'
import { dial, listen, type Channel, type ChannelKeys, type Listener, type PeerIdentity } from './net/channel.ts'
import { FrameTag } from './net/frame.ts'
import type { PeerDirectory } from './net/peers.ts'
import type { OwnOperationalKeys, ReplicaKeyBook } from './keys.ts'
import { initialReplica, step, type AgreedCertificate, type Effect, type Input, type ReplicaState, type Tip } from './replica.ts'
import { defaultTreeHeadIntervalMs, msToTreeHeadSlot, TreeHeadSigner } from './treeHeads.ts'
import { encodeReply } from './reply.ts'

/** What the shell needs from the ledger store (consensus/store LedgerStore satisfies it). */
export type BlockStore = {
  /** Height of the last durable block; -1 when empty. */
  readonly height: number
  /** The block (its certificate as a separate record, agreed or our proof) and an earlier block's agreed certificate; resolves when durable. */
  appendCommitted(block: Block, agreed: boolean, prev: AgreedCertificate | null): Promise<void>
  /** The block with its certificate (the agreed one when stored). */
  readBlockBytes(height: number): Uint8Array
  certificateOf(height: number): { readonly agreed: boolean } | null
  appendTreeHead(sth: SignedTreeHead): Promise<void>
  close(): Promise<void>
}

/** Keys from genesis, resolved for the shell. */
export type Directory = {
  readonly n: number
  operationalKey(replica: number): Uint8Array // ML-DSA-65
  identityKey(replica: number): Uint8Array // SLH-DSA-SHAKE-256f
  keyIdOf(replica: number): string
  /** ML-DSA-65 key of a client (a service key in genesis), or null. */
  clientKey(keyId: string): Uint8Array | null
}

export type NodeOptions<S> = {
  readonly index: number
  readonly host: string
  readonly port: number
  readonly peers: PeerDirectory
  readonly replica?: Partial<ReplicaConfig>
  readonly treeHeadIntervalMs?: number
  readonly tickMs?: number
  readonly app: App<S>
  /** State and tip after the blocks already in the store (the shell recovers them). */
  readonly recover: () => { state: S; tip: Tip }
  readonly store: BlockStore
  readonly crypto: CryptoFacade
  readonly directory: Directory
  readonly protocolKeys: ProtocolKeys
  readonly operationalSecretKey: Uint8Array
  readonly identitySecretKey: Uint8Array
  /** Operational keys that follow the ledger (key rotation): committed blocks are noted in it; channels use its keys. */
  readonly keyBook?: ReplicaKeyBook
  /** This replica's operational secret keys: channel hellos sign with the current one. */
  readonly ownKeys?: OwnOperationalKeys
  /** Called for each committed block, in height order, before the next input is handled. */
  readonly onCommitted?: (block: Block) => void
  readonly log?: (level: 'info' | 'warn', message: string) => void
}

export type NodeStats = {
  height: number
  view: number
  mode: string
  dropped: number
  badSignatures: number
  rejectedConnections: number
  garbageFrames: number
  viewChanges: number
  fetchedBlocks: number
  treeHeads: number
  /** Filled in by the process (zixt node), not by the node itself. */
  memory?: { rssMB: number; heapMB: number; heapTotalMB: number; externalMB: number; arrayBuffersMB: number; spacesMB?: Record<string, number>; liveMB?: number | null }
  /** Entries (or KB) of what the replica and its app keep in memory, by kind. */
  sizes: Record<string, number>
}

export type ReplicaNode = {
  readonly port: number
  stats(): NodeStats
  /** Replicas we hold an authenticated outbound channel to. */
  connectedPeers(): number
  /** Latest signed tree head held from each replica (own included). */
  treeHeads(): ReadonlyMap<number, SignedTreeHead>
  /** Submits a command of this replica's own (RotateReplicaKey) to every replica, itself included. */
  submitOwn(command: Uint8Array): void
  close(): Promise<void>
}

/** Log lines about bad input are rate-limited: at most one per key per interval, with a count. */
function rateLimitedLog(log: (level: 'info' | 'warn', m: string) => void, intervalMs = 1000): (key: string, m: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>()
  return (key, m) => {
    const now = Date.now()
    const e = last.get(key)
    if (e !== undefined && now - e.at < intervalMs) { e.suppressed++; return }
    const extra = e !== undefined && e.suppressed > 0 ? ` (+${e.suppressed} similar suppressed)` : ''
    last.set(key, { at: now, suppressed: 0 })
    if (last.size > 1000) last.delete(last.keys().next().value!)
    log('warn', m + extra)
  }
}

export async function startReplicaNode<S>(o: NodeOptions<S>): Promise<ReplicaNode> {
  const log = o.log ?? ((level, m) => process.stderr.write(`[replica ${o.index}] ${level}: ${m}\n`))
  const warn = rateLimitedLog(log)
  const config: ReplicaConfig = { ...defaultReplicaConfig(o.directory.n), ...o.replica }
  const { state: appState, tip } = o.recover()
  let state: ReplicaState<S> = initialReplica(o.index, config, appState, tip)
  const env = { app: o.app, keys: o.protocolKeys }
  const counters = { rejectedConnections: 0, garbageFrames: 0 }
  const outbound = new Map<number, Channel>() // replica → the channel we dialed
  const clients = new Map<string, Set<Channel>>() // commandId → clients waiting for its result
  const clientsMax = 200_000
  let closed = false
  let persistChain: Promise<void> = Promise.resolve()
  let lastTreeSize = -1
  let treeSize = 0
  let treeRoot: Uint8Array = new Uint8Array(32)
  let lastBlockTime = tip.time
  if (o.store.height >= 0) {
    const last = o.app.decodeBlock(o.store.readBlockBytes(o.store.height)).header
    treeSize = last.treeSize
    treeRoot = last.treeRoot
    lastTreeSize = treeSize // heads for it were signed before the restart, or will be after the next block
  }
  const heads = new Map<number, SignedTreeHead>()

  const channelKeys: ChannelKeys = {
    self: { role: 'replica', index: o.index },
    get secretKey() { return o.ownKeys?.secretKey ?? o.operationalSecretKey },
    crypto: o.crypto,
    publicKeyOf: (p: PeerIdentity) => {
      if (p.role === 'replica') {
        if (p.index >= o.directory.n || p.index === o.index) return null
        return o.keyBook !== undefined ? o.keyBook.accepted(p.index).map((k) => k.publicKey) : o.directory.operationalKey(p.index)
      }
      return o.directory.clientKey(p.keyId)
    },
  }

  const trace = process.env.ZIXT_TRACE === '1'
  function drive(input: Input): void {
    if (closed) return
    const t0 = trace ? performance.now() : 0
    const out = step(state, input, Date.now(), env)
    state = out.state
    if (trace) {
      const kinds = out.effects.map((e) => e.kind === 'broadcast' || e.kind === 'send' ? `${e.kind}:${decodeSigned(e.bytes).body.type}` : e.kind).join(',')
      log('info', `TRACE ${(performance.timeOrigin + performance.now()).toFixed(1)} ${input.kind}${input.kind === 'message' ? ':' + safeType(input.bytes) : ''} took ${(performance.now() - t0).toFixed(2)}ms → ${kinds}`)
    }
    // Messages first: the store's synchronous part of a commit (encoding the block, checking
    // its roots) would otherwise hold back the next pre-prepare leaving in the same step. The
    // order carries no promise: a block is durable only when `persisted` comes back.
    for (const e of out.effects) if (e.kind === 'send' || e.kind === 'broadcast') perform(e)
    for (const e of out.effects) if (e.kind !== 'send' && e.kind !== 'broadcast') perform(e)
  }
  function safeType(b: Uint8Array): string {
    try { return decodeSigned(b).body.type } catch { return '?' }
  }

  function perform(e: Effect): void {
    switch (e.kind) {
      case 'send': outbound.get(e.to)?.send(FrameTag.pbft, e.bytes); break
      case 'broadcast': for (const ch of outbound.values()) ch.send(FrameTag.pbft, e.bytes); break
      case 'persist': {
        const block = e.block
        treeSize = block.header.treeSize
        treeRoot = block.header.treeRoot
        lastBlockTime = block.header.time
        o.keyBook?.noteCommitted(block.header.height, block.header.time, block.events)
        o.onCommitted?.(block)
        warmAfterCommit()
        // Queued at once, not after the previous fsync: the store keeps the order and writes
        // everything queued during one fsync in the next (group commit across blocks).
        // Promises resolve in queue order, so `persisted` inputs arrive in height order.
        persistChain = o.store.appendCommitted(block, e.agreed, e.prev).then(
          () => drive({ kind: 'persisted', height: block.header.height }),
          (err: Error) => { log('warn', `store append failed at ${block.header.height}: ${err.message}`); process.exitCode = 1 },
        )
        break
      }
      case 'readBlocks': {
        const blocks: Uint8Array[] = []
        let bytes = 0
        let agreedCount = 0
        for (let h = e.from; h < e.from + e.count && h <= o.store.height && bytes < frameBytesMax / 2; h++) {
          const b = o.store.readBlockBytes(h)
          if (agreedCount === blocks.length && o.store.certificateOf(h)?.agreed === true) agreedCount++
          bytes += b.length
          blocks.push(b)
        }
        queueMicrotask(() => drive({ kind: 'blocksRead', to: e.to, blocks, agreedCount }))
        break
      }
      case 'reply': reply(e.commandId, e.result, e.view); break
      case 'wake': wakeAt(e.at); break
      case 'log': if (e.level === 'warn') warn(e.message.split(':')[0]!.slice(0, 60), e.message); else log('info', e.message); break
    }
  }

  // One timer, for the earliest wake asked for; a tick that comes first makes it harmless.
  let wakeTimer: NodeJS.Timeout | null = null
  let wakeTime = Number.POSITIVE_INFINITY
  function wakeAt(at: number): void {
    if (wakeTimer !== null && wakeTime <= at) return
    if (wakeTimer !== null) clearTimeout(wakeTimer)
    wakeTime = at
    wakeTimer = setTimeout(() => { wakeTimer = null; wakeTime = Number.POSITIVE_INFINITY; drive({ kind: 'tick' }) }, Math.max(0, at - Date.now()))
  }

  function reply(commandId: string, result: CommandResult, view: number): void {
    const waiting = clients.get(commandId)
    if (waiting === undefined) return
    clients.delete(commandId)
    const bytes = encodeReply(commandId, result, view, o.index)
    for (const ch of waiting) ch.send(FrameTag.reply, bytes)
  }

  function onClientRequest(ch: Channel, command: Uint8Array): void {
    const id = o.app.commandId(command)
    if (id === null) {
      counters.garbageFrames++
      return warn(`client-garbage`, `client ${ch.peer.role === 'client' ? ch.peer.keyId : '?'}: request is not a command`)
    }
    const set = clients.get(id) ?? new Set<Channel>()
    set.add(ch)
    clients.set(id, set)
    if (clients.size > clientsMax) clients.delete(clients.keys().next().value!)
    const known = state.pending.has(id)
    drive({ kind: 'request', command })
    if (!known) warmLater(id, command) // a retransmission was warmed the first time
  }

  // ---- warm-up: command signatures checked on idle time --------------------------------
  // Re-executing a pre-prepare is mostly ML-DSA verification of its commands; done when the
  // command arrives (one per event-loop turn, so protocol messages are never held up), the
  // re-execution finds it remembered (ledgerApp) and the block is prepared sooner.
  // When the app has no room for more (more pending than it keeps), warming waits for the
  // next committed block, whose commands leave room, and goes on with the oldest.
  const warmQueue = new Map<string, Uint8Array>()
  let warming = false
  let warmWaits = false
  function warmLater(id: string, command: Uint8Array): void {
    if (o.app.warm === undefined || warmQueue.size >= config.pendingCommandsMax) return
    warmQueue.set(id, command)
    if (!warming && !warmWaits) { warming = true; setImmediate(warmOne) }
  }
  function warmOne(): void {
    const next = warmQueue.entries().next()
    if (closed || next.done === true) { warming = false; return }
    const [id, command] = next.value
    if (state.pending.has(id) && !o.app.warm!(state.app, command, Date.now())) {
      warming = false
      warmWaits = true
      return
    }
    warmQueue.delete(id)
    setImmediate(warmOne)
  }
  function warmAfterCommit(): void {
    if (!warmWaits) return
    warmWaits = false
    if (!warming && warmQueue.size > 0) { warming = true; setImmediate(warmOne) }
  }

  // ---- tree heads -----------------------------------------------------------------------
  const signer = new TreeHeadSigner(o.identitySecretKey)
  const treeHeadInterval = o.treeHeadIntervalMs ?? defaultTreeHeadIntervalMs
  async function signTreeHead(): Promise<void> {
    if (treeSize === 0 || treeSize === lastTreeSize || state.persistedHeight < state.tip.height) return
    const th = { treeSize, treeRoot, time: lastBlockTime }
    lastTreeSize = treeSize
    const signature = await signer.sign(th)
    const sth: SignedTreeHead = { ...th, replica: o.index, signature }
    await o.store.appendTreeHead(sth)
    heads.set(o.index, sth)
    const bytes = encodeTreeHead(sth)
    for (const ch of outbound.values()) ch.send(FrameTag.treeHead, bytes)
  }
  async function onTreeHead(from: number, payload: Uint8Array): Promise<void> {
    let sth: SignedTreeHead
    try {
      sth = decodeTreeHead(payload)
    } catch {
      counters.garbageFrames++
      return warn(`sth-${from}`, `replica ${from}: malformed tree head`)
    }
    if (sth.replica !== from) return warn(`sth-${from}`, `replica ${from}: tree head claims replica ${sth.replica}`)
    const prev = heads.get(from)
    if (prev !== undefined && prev.treeSize >= sth.treeSize) return
    if (!(await signer.verify(o.directory.identityKey(from), sth))) {
      counters.garbageFrames++
      return warn(`sth-${from}`, `replica ${from}: tree head signature does not verify`)
    }
    heads.set(from, sth)
    storeHead(sth)
  }
  // A peer's head may be ahead of our ledger (we lag, or it signed before our commit landed):
  // the store only takes heads it can check, so the latest such head per peer waits here.
  const deferred = new Map<number, SignedTreeHead>()
  function storeHead(sth: SignedTreeHead): void {
    if (sth.treeSize > treeSize || state.persistedHeight < state.tip.height) {
      deferred.set(sth.replica, sth)
      return
    }
    deferred.delete(sth.replica)
    o.store.appendTreeHead(sth).catch((e: Error) => warn(`sth-store-${sth.replica}`, `replica ${sth.replica}: tree head not stored: ${e.message}`))
  }
  function flushDeferred(): void {
    for (const sth of [...deferred.values()]) if (sth.treeSize <= treeSize && state.persistedHeight >= state.tip.height) storeHead(sth)
  }
  let signing = false
  let treeTimer: NodeJS.Timeout
  const scheduleTreeSlot = (justFired: boolean): void => {
    const next = msToTreeHeadSlot(Date.now(), treeHeadInterval, o.index, config.n)
    // a timer that fired a little early must not take the same slot again
    treeTimer = setTimeout(onTreeSlot, justFired && next < treeHeadInterval / 2 ? next + treeHeadInterval : next)
  }
  const onTreeSlot = (): void => {
    scheduleTreeSlot(true)
    flushDeferred()
    if (signing) return
    signing = true
    signTreeHead().catch((e: Error) => log('warn', `tree head: ${e.message}`)).finally(() => { signing = false })
  }
  scheduleTreeSlot(false)

  // ---- network --------------------------------------------------------------------------
  const inbound = new Set<Channel>() // channels peers and clients dialed to us
  function attachInbound(ch: Channel): void {
    const peer = ch.peer
    inbound.add(ch)
    ch.onClose(() => inbound.delete(ch))
    ch.onFrame((tag, payload) => {
      if (peer.role === 'replica') {
        if (tag === FrameTag.pbft) return drive({ kind: 'message', from: peer.index, bytes: payload })
        if (tag === FrameTag.request) return onClientRequest(ch, payload) // a peer's own command (RotateReplicaKey)
        if (tag === FrameTag.treeHead) return void onTreeHead(peer.index, payload).catch((e: Error) => warn('sth-verify', `tree head: ${e.message}`))
      } else if (tag === FrameTag.request) return onClientRequest(ch, payload)
      counters.garbageFrames++
      warn(`frame-${JSON.stringify(peer)}`, `${peer.role} ${peer.role === 'replica' ? peer.index : peer.keyId}: unexpected frame tag ${tag}`)
    })
  }

  /** What this replica holds in memory, by kind: the soak follows these beside the heap. */
  function sizes(): Record<string, number> {
    const kb = (chs: Iterable<Channel>): number => { let b = 0; for (const ch of chs) b += ch.buffered; return Math.round(b / 1024) }
    return {
      pending: state.pending.size, early: state.early.length, results: state.results.byId.size, resultsKB: Math.round(state.results.bytes / 1024),
      unpersisted: state.unpersisted.size, checkpoints: state.checkpoints.size, viewChanges: state.viewChanges.size,
      waitingClients: clients.size, inbound: inbound.size, outboundKB: kb(outbound.values()), inboundKB: kb(inbound),
      deferredHeads: deferred.size, ...o.app.sizes?.(state.app),
    }
  }

  const listener: Listener = await listen({
    host: o.host, port: o.port, keys: channelKeys, frameBytesMax,
    onChannel: attachInbound,
    onRejected: (reason, remote) => {
      counters.rejectedConnections++
      warn(`reject-${reason.slice(0, 20)}`, `refused connection from ${remote}: ${reason}`)
    },
  })

  const dialing = new Set<number>()
  async function connect(peer: number): Promise<void> {
    if (closed || outbound.has(peer) || dialing.has(peer)) return
    const addr = o.peers.lookup(peer)
    if (addr === null) return
    dialing.add(peer)
    try {
      const ch = await dial({ host: addr.host, port: addr.port, keys: channelKeys, expect: { role: 'replica', index: peer }, frameBytesMax })
      if (closed) return ch.close()
      outbound.set(peer, ch)
      ch.onClose(() => { if (outbound.get(peer) === ch) outbound.delete(peer) })
      ch.onFrame(() => {}) // the peer answers on its own outbound channel, never on ours
      log('info', `connected to replica ${peer} (${ch.group})`)
    } catch (e) {
      warn(`dial-${peer}`, `replica ${peer} unreachable: ${(e as Error).message}`)
    } finally {
      dialing.delete(peer)
    }
  }
  const connectAll = (): void => { for (let i = 0; i < o.directory.n; i++) if (i !== o.index) void connect(i) }
  connectAll()
  const dialTimer = setInterval(connectAll, 500)
  const tickTimer = setInterval(() => drive({ kind: 'tick' }), o.tickMs ?? 25)

  return {
    port: listener.port,
    stats: () => ({
      height: state.tip.height, view: state.view, mode: state.mode, dropped: state.counters.dropped, badSignatures: state.counters.badSignature,
      rejectedConnections: counters.rejectedConnections, garbageFrames: counters.garbageFrames, viewChanges: state.counters.viewChanges,
      fetchedBlocks: state.counters.fetchedBlocks, treeHeads: heads.size,
      sizes: sizes(),
    }),
    treeHeads: () => heads,
    connectedPeers: () => outbound.size,
    submitOwn(command) {
      for (const ch of outbound.values()) ch.send(FrameTag.request, command)
      drive({ kind: 'request', command })
    },
    async close() {
      closed = true
      clearInterval(dialTimer)
      clearInterval(tickTimer)
      clearTimeout(treeTimer)
      if (wakeTimer !== null) clearTimeout(wakeTimer)
      for (const ch of outbound.values()) ch.close()
      await listener.close()
      await persistChain
      await signer.close()
      await o.store.close()
    },
  }
}
