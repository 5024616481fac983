// A deterministic, seeded simulator for whole PBFT clusters (TigerBeetle's VOPR in spirit).
// One event queue in simulated time; the network drops, delays, reorders, duplicates and
// corrupts messages; replicas crash and restart (optionally with a wiped disk); one replica
// may be Byzantine. After every commit it checks that no two correct replicas hold different
// blocks at the same height, nor answer different rejections for it, and it reports whether
// every submitted command committed.
import { decode, encode } from '../../domain/ledger/codec.ts'
import type { Block, CommitSignature } from '../../domain/ledger/envelope.ts'
import { seededRng } from '../../domain/ledger/testing/prng.ts'
import { nativeCrypto } from '../../domain/crypto/native.ts'
import type { App, CommandResult, ProtocolKeys } from '../app.ts'
import { defaultReplicaConfig, type ReplicaConfig } from '../config.ts'
import { decodeSigned, encodeBody, encodeSigned, proposalDigestInput, type Body, type PrePrepare, type Signed } from '../messages.ts'
import { initialReplica, primaryOf, step, type Effect, type Env, type Input, type ReplicaState } from '../replica.ts'
import { testApp, testCommand, testGenesis, type TestState } from './testApp.ts'

export type Behaviour = 'equivocate' | 'splitRejections' | 'forge' | 'replay' | 'wrongHash' | 'bogusViewChange' | 'lyingViewChange' | 'silent'
export const behaviours: readonly Behaviour[] = ['equivocate', 'forge', 'replay', 'wrongHash', 'bogusViewChange', 'lyingViewChange', 'silent', 'splitRejections']

export type SimOptions = {
  readonly seed: number
  readonly commands: number // submitted one every submitEveryMs
  readonly submitEveryMs?: number
  readonly dropRate?: number
  readonly duplicateRate?: number
  readonly corruptRate?: number
  readonly delayMs?: readonly [number, number]
  readonly healAtMs?: number // from then on nothing is dropped or corrupted (eventual delivery)
  // deafMs: after its restart the replica hears nothing from its peers for this long (they
  // have not redialled it yet), though clients reach it.
  readonly crash?: { readonly replica: number; readonly atMs: number; readonly restartAtMs?: number; readonly wipe?: boolean; readonly deafMs?: number }
  readonly commandsAfterRestart?: number // submitted one every submitEveryMs from just after the restart
  // A second replica that stops for good, later (after the first crash's replica is back: still
  // at most f faulty at a time).
  readonly stop?: { readonly replica: number; readonly atMs: number }
  readonly byzantine?: { readonly replica: number; readonly behaviour: Behaviour }
  readonly realCrypto?: boolean // ML-DSA-65 signatures instead of keyed hashes
  readonly timeLimitMs?: number
  readonly config?: Partial<ReplicaConfig>
}

/** The lossy network of the tests and the stress bench: it heals at 2.5 s (eventual delivery); runs stop at 120 s. */
export const lossy = { healAtMs: 2500, dropRate: 0.05, duplicateRate: 0.05, corruptRate: 0.02, delayMs: [1, 15] as const, timeLimitMs: 120_000 }

export type SimResult = {
  readonly safe: boolean
  readonly violations: readonly string[]
  readonly acknowledged: number // commands the client holds f+1 matching replies for
  readonly submitted: number
  readonly heights: readonly number[]
  readonly simulatedMs: number
  readonly viewChanges: number
  readonly dropped: number
  readonly badSignatures: number
  readonly fetchedBlocks: number
  readonly maxView: number
  readonly ledgerMatches: boolean
  readonly certificatesAgreed: number // heights where every correct replica stores the agreed certificate
  readonly messageVerifications: number // protocol-message signatures checked (commit certificates apart), all replicas
  readonly certificateVerifications: number // commit-certificate signatures checked, all replicas
}

type Event =
  | { at: number; seq: number; kind: 'deliver'; to: number; from: number; bytes: Uint8Array }
  | { at: number; seq: number; kind: 'input'; to: number; input: Input }
  | { at: number; seq: number; kind: 'reply'; from: number; commandId: string; result: Uint8Array }
  | { at: number; seq: number; kind: 'timer'; what: 'tick' | 'submit' | 'retransmit' | 'crash' | 'restart' | 'stop' | 'byzantine' }

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

class Queue {
  private items: Event[] = []
  push(e: Event): void {
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(a[i]!, a[p]!)) break
      ;[a[i], a[p]] = [a[p]!, a[i]!]
      i = p
    }
  }
  pop(): Event | undefined {
    const a = this.items
    if (a.length === 0) return undefined
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1, r = l + 1
        let m = i
        if (l < a.length && less(a[l]!, a[m]!)) m = l
        if (r < a.length && less(a[r]!, a[m]!)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m]!, a[i]!]
        i = m
      }
    }
    return top
  }
  get size(): number { return this.items.length }
}
const less = (a: Event, b: Event): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** Keyed-hash signatures: cheap, and unforgeable for an actor that lacks the secret. */
function fakeKeys(id: number, secrets: readonly Uint8Array[]): ProtocolKeys {
  const mac = (r: number, m: Uint8Array): Uint8Array => nativeCrypto.sha3_256(Buffer.concat([secrets[r]!, m]))
  const commitMsg = (v: number, h: number, hash: Uint8Array): Uint8Array => encode(['zixt/commit/v1', v, h, hash])
  return {
    sign: (m) => mac(id, m),
    verify: (r, m, s) => r < secrets.length && Buffer.from(mac(r, m)).equals(s),
    signCommit: (v, h, hash) => ({ replica: id, keyId: `k${id}`, signature: mac(id, commitMsg(v, h, hash)) }),
    verifyCommit: (v, h, hash, s) => s.replica < secrets.length && s.keyId === `k${s.replica}` && Buffer.from(mac(s.replica, commitMsg(v, h, hash))).equals(s.signature),
    keyIdOf: (r) => `k${r}`,
  }
}

function realKeys(id: number, pairs: readonly { publicKey: Uint8Array; secretKey: Uint8Array }[]): ProtocolKeys {
  const dsa = nativeCrypto.mlDsa65
  const ctx = new TextEncoder().encode('zixt/pbft/v1')
  const commitMsg = (v: number, h: number, hash: Uint8Array): Uint8Array => encode(['zixt/commit/v1', v, h, hash])
  return {
    sign: (m) => dsa.sign(pairs[id]!.secretKey, m, ctx),
    verify: (r, m, s) => r < pairs.length && dsa.verify(pairs[r]!.publicKey, m, s, ctx),
    signCommit: (v, h, hash): CommitSignature => ({ replica: id, keyId: `k${id}`, signature: dsa.sign(pairs[id]!.secretKey, commitMsg(v, h, hash)) }),
    verifyCommit: (v, h, hash, s) => s.replica < pairs.length && s.keyId === `k${s.replica}` && dsa.verify(pairs[s.replica]!.publicKey, commitMsg(v, h, hash), s.signature),
    keyIdOf: (r) => `k${r}`,
  }
}

/** A stored block as the shell keeps it: the block without certificate, plus the certificate and whether it is the agreed one. */
type Stored = { readonly block: Block; certificate: readonly CommitSignature[]; agreed: boolean }
type Node = { state: ReplicaState<TestState>; store: Stored[]; crashed: boolean; env: Env<TestState> }

export function simulate(o: SimOptions): SimResult {
  const rng = seededRng(o.seed)
  const config: ReplicaConfig = { ...defaultReplicaConfig(4), viewTimeoutMs: 400, checkpointInterval: 8, fetchBlocksMax: 16, batchCommandsMax: 20, ...o.config }
  const n = config.n
  const app: App<TestState> = testApp(nativeCrypto)
  const keys: ProtocolKeys[] = []
  if (o.realCrypto === true) {
    const pairs = Array.from({ length: n }, (_, i) => nativeCrypto.mlDsa65.keygen(new Uint8Array(32).fill(i + 1)))
    for (let i = 0; i < n; i++) keys.push(realKeys(i, pairs))
  } else {
    const secrets = Array.from({ length: n }, (_, i) => nativeCrypto.sha3_256(Uint8Array.of(o.seed & 0xff, i)))
    for (let i = 0; i < n; i++) keys.push(fakeKeys(i, secrets))
  }
  let messageVerifications = 0
  let certificateVerifications = 0
  for (const [i, k] of keys.entries()) {
    keys[i] = {
      ...k,
      verify: (r, m, sig) => { messageVerifications++; return k.verify(r, m, sig) },
      verifyCommit: (v, h, hash, sig) => { certificateVerifications++; return k.verifyCommit(v, h, hash, sig) },
    }
  }
  const genesisTip = { height: -1, hash: new Uint8Array(32), time: 0, headerView: 0, certificate: [] }
  const fresh = (i: number): Node => ({ state: initialReplica(i, config, testGenesis, genesisTip), store: [], crashed: false, env: { app, keys: keys[i]! } })
  const nodes: Node[] = Array.from({ length: n }, (_, i) => fresh(i))
  const q = new Queue()
  let seq = 0
  let now = 0
  const byz = o.byzantine
  const isCorrect = (i: number): boolean => byz === undefined || byz.replica !== i
  const violations: string[] = []
  const committedHash = new Map<number, string>()
  const rejectionsAt = new Map<number, { committed?: string; answered?: string }>()
  const answers = new Map<string, { readonly hex: string; readonly replica: number }>() // command → the first correct replica's answer
  const replayPool: Uint8Array[] = []
  const [dmin, dmax] = o.delayMs ?? [1, 8]
  const healed = (): boolean => o.healAtMs !== undefined && now >= o.healAtMs

  const schedule = (e: DistributiveOmit<Event, 'seq'>): void => q.push({ ...e, seq: seq++ } as Event)

  function transmit(from: number, to: number, bytes: Uint8Array): void {
    if (!healed() && rng.next() < (o.dropRate ?? 0)) return
    let b = bytes
    if (!healed() && rng.next() < (o.corruptRate ?? 0)) {
      b = bytes.slice()
      b[rng.int(b.length)]! ^= 1 << rng.int(8)
    }
    const copies = !healed() && rng.next() < (o.duplicateRate ?? 0) ? 2 : 1
    for (let k = 0; k < copies; k++) schedule({ at: now + dmin + rng.int(dmax - dmin + 1), kind: 'deliver', to, from, bytes: b })
  }

  function perform(i: number, effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send': sendFrom(i, e.to, e.bytes); break
        case 'broadcast': for (let j = 0; j < n; j++) if (j !== i) sendFrom(i, j, e.bytes); break
        case 'persist': {
          const node = nodes[i]!
          const h = e.block.header.height
          if (node.store.length !== h) violations.push(`replica ${i} persisted height ${h} after ${node.store.length}`)
          if (e.prev !== null) {
            const prev = node.store[e.prev.height]
            if (prev === undefined || e.prev.height !== h - 1) violations.push(`replica ${i}: agreed certificate for height ${e.prev.height} with block ${h}`)
            else Object.assign(prev, { certificate: e.prev.certificate, agreed: true })
          }
          node.store.push({ block: { ...e.block, certificate: [] }, certificate: e.block.certificate, agreed: e.agreed })
          if (isCorrect(i)) {
            checkSafety(i, h, Buffer.from(app.blockHash(e.block.header)).toString('hex'))
            checkRejections(i, h, e.transferred, node.state.unpersisted.get(h) ?? [])
          }
          schedule({ at: now + 1, kind: 'input', to: i, input: { kind: 'persisted', height: h } })
          break
        }
        case 'readBlocks': {
          const stored = nodes[i]!.store.slice(e.from, e.from + e.count)
          const blocks = stored.map((b) => app.encodeBlock({ ...b.block, certificate: b.certificate }))
          let agreedCount = 0
          while (agreedCount < stored.length && stored[agreedCount]!.agreed) agreedCount++
          schedule({ at: now + 1, kind: 'input', to: i, input: { kind: 'blocksRead', to: e.to, blocks, agreedCount } })
          break
        }
        case 'reply': {
          const result = encodeResult(e.result)
          if (isCorrect(i)) checkAnswer(i, e.commandId, result)
          if (!healed() && rng.next() < (o.dropRate ?? 0)) break
          schedule({ at: now + dmin + rng.int(dmax - dmin + 1), kind: 'reply', from: i, commandId: e.commandId, result })
          break
        }
        case 'wake': schedule({ at: Math.max(now + 1, Math.ceil(e.at)), kind: 'input', to: i, input: { kind: 'tick' } }); break
        case 'log': if (process.env.SIM_LOG) console.log(now, i, e.level, e.message); break
      }
    }
  }

  // The rejections a correct replica answers with a block are the agreed ones: every replica
  // that committed the block itself holds the same; one that took it in by state transfer
  // holds the same or none.
  function checkRejections(i: number, h: number, transferred: boolean, results: readonly { commandId: string; result: CommandResult }[]): void {
    const list = results.flatMap((r) => (r.result.kind === 'rejected' ? [`${r.commandId}:${r.result.code}`] : [])).join(',')
    const seen = rejectionsAt.get(h) ?? {}
    if (!transferred) {
      if (seen.committed !== undefined && seen.committed !== list) violations.push(`height ${h}: replica ${i} committed rejections [${list}], another correct replica [${seen.committed}]`)
      seen.committed ??= list
    }
    if (list !== '') {
      if (seen.answered !== undefined && seen.answered !== list) violations.push(`height ${h}: replica ${i} answers rejections [${list}], another correct replica [${seen.answered}]`)
      seen.answered ??= list
    }
    if (seen.committed !== undefined && seen.answered !== undefined && seen.committed !== seen.answered) violations.push(`height ${h}: rejections [${seen.answered}] answered, [${seen.committed}] committed`)
    rejectionsAt.set(h, seen)
  }

  // Whatever path an answer takes (a commit, a retransmission, a rejection answered late once
  // 2f+1 commits came in), correct replicas never answer one command two ways.
  function checkAnswer(i: number, commandId: string, result: Uint8Array): void {
    const hex = Buffer.from(result).toString('hex')
    const seen = answers.get(commandId)
    if (seen === undefined) answers.set(commandId, { hex, replica: i })
    else if (seen.hex !== hex) violations.push(`command ${commandId}: replica ${i} answers ${describeResult(hex)}, replica ${seen.replica} ${describeResult(seen.hex)}`)
  }

  function checkSafety(i: number, h: number, hash: string): void {
    const seen = committedHash.get(h)
    if (seen === undefined) committedHash.set(h, hash)
    else if (seen !== hash) violations.push(`height ${h}: replica ${i} committed ${hash.slice(0, 12)}, another correct replica ${seen.slice(0, 12)}`)
  }

  function sendFrom(i: number, to: number, bytes: Uint8Array): void {
    const cr = o.crash
    if (cr?.restartAtMs !== undefined && to === cr.replica && now >= cr.restartAtMs && now < cr.restartAtMs + (cr.deafMs ?? 0)) return
    if (byz !== undefined && byz.replica === i) return byzantineSend(i, to, bytes)
    transmit(i, to, bytes)
  }

  // ---- the Byzantine replica: a correct replica whose outgoing traffic is rewritten ----
  function byzantineSend(i: number, to: number, bytes: Uint8Array): void {
    const k = keys[i]!
    const m = decodeSigned(bytes)
    const resign = (body: Body): Uint8Array => encodeSigned({ from: i, body, sig: k.sign(encodeBody(body)) })
    switch (byz!.behaviour) {
      case 'silent': return
      case 'equivocate': {
        if (m.body.type === 'prePrepare' && m.body.batch.length > 0 && to % 2 === 0) {
          const b = m.body
          const node = nodes[i]!
          // A different but internally valid block for half the backups: another time.
          const exec = app.execute(node.state.app, b.batch, { height: b.height, headerView: b.headerView, time: b.time + 1, proposer: b.proposer, prevBlockHash: node.state.tip.hash })
          const alt: PrePrepare = { ...b, time: b.time + 1, blockHash: exec.blockHash }
          return transmit(i, to, resign(alt))
        }
        return transmit(i, to, bytes)
      }
      case 'splitRejections': {
        // One backup gets the batch plus a command every state rejects: the same block hash (a
        // rejected command leaves no trace in the block) with other rejections. Unless
        // prepares and commits bind the rejections, that backup commits the block and answers
        // a rejection for a command the others never ordered.
        const b = m.body
        if (b.type === 'prePrepare' && b.batch.length > 0 && b.batch.length < config.batchCommandsMax && to === (i + 1) % n) {
          const id = `split-${b.height}-${b.view}`
          return transmit(i, to, resign({ ...b, batch: [...b.batch, testCommand(id, 1001)], rejected: [...b.rejected, { commandId: id, code: 'TEST_ODD' }] }))
        }
        return transmit(i, to, bytes)
      }
      case 'wrongHash': {
        const b = m.body
        if (b.type === 'prePrepare' || b.type === 'prepare' || b.type === 'commit') return transmit(i, to, resign({ ...b, blockHash: rng.bytes(32) }))
        return transmit(i, to, bytes)
      }
      case 'forge': {
        transmit(i, to, bytes)
        // The same body under a random signature, and a message claiming another sender.
        transmit(i, to, encodeSigned({ ...m, sig: rng.bytes(m.sig.length) }))
        const other = (i + 1 + rng.int(n - 1)) % n
        transmit(i, to, encodeSigned({ from: other, body: m.body, sig: k.sign(encodeBody(m.body)) }))
        return
      }
      case 'replay': {
        transmit(i, to, bytes)
        replayPool.push(bytes)
        if (replayPool.length > 200) replayPool.shift()
        if (replayPool.length > 0) transmit(i, to, replayPool[rng.int(replayPool.length)]!)
        return
      }
      case 'bogusViewChange':
        return transmit(i, to, bytes)
      case 'lyingViewChange': {
        // Its view changes lie about the next height, in the two ways a claim cannot be checked:
        // nothing prepared (hiding a block it prepared), or a block of its own making prepared in
        // the latest view it led, under a valid signature (it was that view's primary).
        if (m.body.type !== 'viewChange') return transmit(i, to, bytes)
        const b = m.body
        let led = b.newView - 1
        while (led >= 0 && primaryOf(led, n) !== i) led--
        if (led < 0 || rng.int(2) === 0) return transmit(i, to, resign({ ...b, prepared: null, prePrepared: [] }))
        const fake: PrePrepare = { type: 'prePrepare', view: led, height: b.committed.height + 1, time: now, headerView: led, proposer: i, batch: [testCommand(`lie${now}`, 7)], blockHash: rng.bytes(32), rejected: [], prevCertificate: [] }
        const prepared: Signed = { from: i, body: fake, sig: k.sign(encodeBody(fake)) }
        const proposalDigest = app.digest(proposalDigestInput(fake))
        return transmit(i, to, resign({ ...b, prepared, prePrepared: [{ view: led, blockHash: fake.blockHash, proposalDigest }] }))
      }
    }
  }

  function byzantineNoise(): void {
    if (byz === undefined) return
    const i = byz.replica
    const node = nodes[i]!
    const k = keys[i]!
    const resign = (body: Body): Uint8Array => encodeSigned({ from: i, body, sig: k.sign(encodeBody(body)) })
    if (byz.behaviour === 'bogusViewChange') {
      const v = node.state.view + 1 + rng.int(3)
      const fakeCert = [0, 1, 2].map((r) => ({ replica: r, keyId: `k${r}`, signature: rng.bytes(32) }))
      const tip = { height: node.state.tip.height, blockHash: node.state.tip.hash, headerView: node.state.tip.headerView, certificate: node.state.tip.certificate }
      const claim = { view: v - 1, blockHash: rng.bytes(32), proposalDigest: rng.bytes(32) }
      // a pre-prepare said to come from another replica, the primary of v - 1, under a forged signature
      const forged: Signed = { from: primaryOf(v - 1, n), body: { type: 'prePrepare', view: v - 1, height: tip.height + 1, time: now, headerView: v - 1, proposer: primaryOf(v - 1, n), batch: [], blockHash: claim.blockHash, rejected: [], prevCertificate: [] }, sig: rng.bytes(32) }
      const bodies: Body[] = [
        { type: 'viewChange', newView: v, committed: { height: tip.height + 50, blockHash: rng.bytes(32), headerView: 0, certificate: fakeCert }, prepared: null, prePrepared: [] },
        { type: 'viewChange', newView: v, committed: tip, prepared: forged, prePrepared: [claim] },
        { type: 'viewChange', newView: v, committed: tip, prepared: null, prePrepared: [{ ...claim, view: v }] }, // pre-prepared in the view it asks to enter
        { type: 'newView', view: v, viewChanges: [], prePrepare: forged },
      ]
      for (let j = 0; j < n; j++) if (j !== i) transmit(i, j, resign(bodies[rng.int(bodies.length)]!))
    }
    if (byz.behaviour === 'forge' || byz.behaviour === 'replay') {
      for (let j = 0; j < n; j++) if (j !== i) transmit(i, j, rng.bytes(1 + rng.int(200))) // garbage
    }
  }

  // ---- the client: submit to all, retransmit to all, accept on f+1 matching replies ----
  const submitted: { id: string; bytes: Uint8Array }[] = []
  const replies = new Map<string, Map<number, string>>() // command → replica → result
  const acknowledged = new Map<string, string>()
  const ackOrder: string[] = []

  function submit(k: number): void {
    const value = k % 7 === 3 ? 1001 + 2 * k : k // some commands are rejected
    const c = { id: `c${k}`, bytes: testCommand(`c${k}`, value) }
    submitted.push(c)
    for (let j = 0; j < n; j++) schedule({ at: now + dmin + rng.int(dmax - dmin + 1), kind: 'input', to: j, input: { kind: 'request', command: c.bytes } })
  }

  function onReply(from: number, id: string, result: Uint8Array): void {
    if (acknowledged.has(id)) return
    const byReplica = replies.get(id) ?? new Map<number, string>()
    byReplica.set(from, Buffer.from(result).toString('hex'))
    replies.set(id, byReplica)
    const counts = new Map<string, number>()
    for (const r of byReplica.values()) counts.set(r, (counts.get(r) ?? 0) + 1)
    for (const [r, count] of counts) if (count >= config.f + 1) { acknowledged.set(id, r); ackOrder.push(id) }
  }

  function deliver(to: number, input: Input): void {
    const node = nodes[to]!
    if (node.crashed) return
    const out = step(node.state, input, now, node.env)
    node.state = out.state
    perform(to, out.effects)
  }

  // ---- schedule and run ----
  const every = o.submitEveryMs ?? 5
  for (let k = 0; k < o.commands; k++) schedule({ at: 10 + k * every, kind: 'timer', what: 'submit' })
  const late = o.crash?.restartAtMs === undefined ? 0 : o.commandsAfterRestart ?? 0
  for (let k = 0; k < late; k++) schedule({ at: o.crash!.restartAtMs! + 20 + k * every, kind: 'timer', what: 'submit' })
  const total = o.commands + late
  schedule({ at: 0, kind: 'timer', what: 'tick' })
  schedule({ at: 300, kind: 'timer', what: 'retransmit' })
  if (byz !== undefined) schedule({ at: 50, kind: 'timer', what: 'byzantine' })
  if (o.crash !== undefined) {
    schedule({ at: o.crash.atMs, kind: 'timer', what: 'crash' })
    if (o.crash.restartAtMs !== undefined) schedule({ at: o.crash.restartAtMs, kind: 'timer', what: 'restart' })
  }
  if (o.stop !== undefined) schedule({ at: o.stop.atMs, kind: 'timer', what: 'stop' })
  const limit = o.timeLimitMs ?? 60_000
  let submittedCount = 0
  let eventsMax = 5_000_000
  while (q.size > 0 && eventsMax-- > 0) {
    const e = q.pop()!
    now = e.at
    if (now > limit) break
    if (e.kind === 'deliver') deliver(e.to, { kind: 'message', from: e.from, bytes: e.bytes })
    else if (e.kind === 'input') deliver(e.to, e.input)
    else if (e.kind === 'reply') onReply(e.from, e.commandId, e.result)
    else if (e.what === 'tick') {
      for (let i = 0; i < n; i++) deliver(i, { kind: 'tick' })
      if (acknowledged.size < total || now < (o.crash?.restartAtMs ?? 0) + 2000 + (o.crash?.deafMs ?? 0) + 2 * config.viewTimeoutMs) schedule({ at: now + 20, kind: 'timer', what: 'tick' })
    } else if (e.what === 'submit') submit(submittedCount++)
    else if (e.what === 'retransmit') {
      for (const c of submitted) {
        if (acknowledged.has(c.id)) continue
        for (let j = 0; j < n; j++) schedule({ at: now + dmin + rng.int(dmax - dmin + 1), kind: 'input', to: j, input: { kind: 'request', command: c.bytes } })
      }
      if (acknowledged.size < total) schedule({ at: now + 300, kind: 'timer', what: 'retransmit' })
    } else if (e.what === 'crash') nodes[o.crash!.replica]!.crashed = true
    else if (e.what === 'restart') restart(o.crash!.replica, o.crash!.wipe === true)
    else if (e.what === 'stop') nodes[o.stop!.replica]!.crashed = true
    else if (e.what === 'byzantine') {
      byzantineNoise()
      if (acknowledged.size < total) schedule({ at: now + 100, kind: 'timer', what: 'byzantine' })
    }
  }

  function restart(i: number, wipe: boolean): void {
    const old = nodes[i]!
    const node = fresh(i)
    if (!wipe) {
      // Recovery from the local store: re-execute stored blocks (the shell does the same).
      let st = node.state
      for (const stored of old.store) {
        const b = { ...stored.block, certificate: stored.certificate }
        const exec = app.execute(st.app, b.commands, { height: b.header.height, headerView: b.header.view, time: b.header.time, proposer: b.header.proposer, prevBlockHash: st.tip.hash })
        st = initialReplica(i, config, exec.state, { height: b.header.height, hash: exec.blockHash, time: b.header.time, headerView: b.header.view, certificate: b.certificate })
      }
      node.state = st
      node.store = old.store
    }
    nodes[i] = node
  }

  // ---- verdict ----
  const correct = nodes.map((_, i) => i).filter((i) => isCorrect(i))
  const ledgers = correct.map((i) => nodes[i]!.store.map((b) => Buffer.from(app.encodeBlock(b.block)).toString('hex')))
  const shortest = Math.min(...ledgers.map((l) => l.length))
  let ledgerMatches = true
  let certificatesAgreed = 0
  for (let h = 0; h < shortest; h++) {
    if (new Set(ledgers.map((l) => l[h])).size !== 1) ledgerMatches = false
    // Byte-identical ledgers: wherever every correct replica holds the agreed certificate, it is the same.
    const stored = correct.map((i) => nodes[i]!.store[h]!)
    if (!stored.every((b) => b.agreed)) continue
    certificatesAgreed++
    if (new Set(stored.map((b) => Buffer.from(encode(b.certificate.map((x) => ({ ...x })))).toString('hex'))).size !== 1) {
      violations.push(`height ${h}: correct replicas store different agreed certificates`)
    }
  }
  // Only the last blocks may still wait for their agreed certificate (the next block carries it).
  for (const i of correct) {
    const st = nodes[i]!.store
    const firstOpen = st.findIndex((b) => !b.agreed)
    if (firstOpen >= 0 && firstOpen < st.length - 2) violations.push(`replica ${i}: block ${firstOpen} of ${st.length} has no agreed certificate`)
  }
  // Every acknowledged command result must match what the ledger holds.
  for (const [id, hex] of acknowledged) {
    const r = decodeResult(hex)
    if (r.kind === 'committed') {
      const block = nodes[correct[0]!]!.store[r.height]?.block
      if (block !== undefined && !block.events.some((ev) => ev.commandId === id)) violations.push(`acknowledged ${id} is not in block ${r.height}`)
    }
  }
  const sum = (f: (s: ReplicaState<TestState>) => number): number => nodes.filter((_, i) => isCorrect(i)).reduce((a, nd) => a + f(nd.state), 0)
  return {
    safe: violations.length === 0 && ledgerMatches,
    violations,
    acknowledged: acknowledged.size,
    submitted: submitted.length,
    heights: nodes.map((nd) => nd.store.length),
    simulatedMs: now,
    viewChanges: sum((s) => s.counters.viewChanges),
    dropped: sum((s) => s.counters.dropped),
    badSignatures: sum((s) => s.counters.badSignature),
    fetchedBlocks: sum((s) => s.counters.fetchedBlocks),
    maxView: Math.max(...nodes.map((nd) => nd.state.view)),
    ledgerMatches,
    certificatesAgreed,
    messageVerifications,
    certificateVerifications,
  }
}

function encodeResult(r: CommandResult): Uint8Array {
  return r.kind === 'committed' ? encode({ kind: r.kind, height: r.height, events: r.events.map((e) => ({ ...e })) }) : encode({ ...r })
}

function decodeResult(hex: string): { kind: string; height: number; code?: string; events?: readonly unknown[] } {
  return decode(Buffer.from(hex, 'hex')) as unknown as { kind: string; height: number; code?: string; events?: readonly unknown[] }
}

function describeResult(hex: string): string {
  const r = decodeResult(hex)
  return r.kind === 'committed' ? `committed at height ${r.height} (${r.events?.length ?? 0} events, ${hex.length / 2} bytes)` : `rejected ${r.code}`
}
