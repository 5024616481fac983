// npx zixt audit --data DIR [--genesis FILE] [--replica I] [--json]
// Verifies a whole ledger (docs/audit.md): record checksums (on read), the block chain,
// per-stream hash chains, Merkle roots, commit certificates (2f+1 ML-DSA-65 signatures by
// the operational keys valid at that height), SLH-DSA tree heads covering every event from
// 2f+1 replicas, and that replaying every command from genesis reproduces the recorded
// events byte for byte. Stops at the first problem and names block, record and reason.
import { readFileSync } from 'node:fs'
import { nativeCrypto } from '../domain/crypto/native.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { fromBase64url } from '../domain/encoding.ts'
import { ErrorCode, type ZixtError } from '../domain/errors.ts'
import { executeCommand, genesisState, type LedgerState } from '../domain/execute.ts'
import { decodeGenesis, verifyGenesis, type Genesis } from '../domain/genesis.ts'
import { blockHash, commitMessage, GENESIS_TIP, verifyBlock, type ChainTip } from '../domain/ledger/block.ts'
import { equalBytes } from '../domain/ledger/codec.ts'
import type { Block, SignedTreeHead } from '../domain/ledger/envelope.ts'
import { encodeEvent, eventBytesHash, mergeStreamHeads, type StreamHead } from '../domain/ledger/event.ts'
import { treeHeadMessage } from '../domain/ledger/treeHead.ts'
import { operationalKeyId } from '../consensus/keys.ts'
import type { LedgerReader } from '../consensus/store/ledgerReader.ts'
import { ledgerPaths, openLedger, openLedgerReader } from './ledgerSource.ts'

export type AuditProblem = { readonly height: number | null; readonly record: string; readonly reason: string }
export type AuditReport = {
  readonly ok: boolean
  readonly blocks: number
  readonly events: number
  readonly commands: number
  readonly treeHeads: number
  /**
   * Events after the largest size signed by 2f+1 replicas: on a live ledger the replicas sign
   * tree heads off the latency path, so the newest events are "not yet covered" (not a
   * failure unless `requireCovered`). `null`: every event is covered.
   */
  readonly uncovered: Uncovered | null
  readonly seconds: number
  readonly problem: AuditProblem | null
}
export type Uncovered = { readonly count: number; readonly fromPosition: number; readonly toPosition: number; readonly replicasCovering: number }
export type AuditOptions = { readonly requireCovered?: boolean; readonly onProgress?: Progress }

class Found extends Error {
  readonly problem: AuditProblem
  constructor(problem: AuditProblem) {
    super(problem.reason)
    this.problem = problem
  }
}
const fail = (height: number | null, record: string, reason: string): never => {
  throw new Found({ height, record, reason })
}

type Progress = (done: { height: number; blocks: number; events: number; seconds: number }) => void

/** Operational keys valid for the next block: genesis keys, then ReplicaKeyRotated. */
type Keys = { publicKey: Uint8Array; keyId: string }[]

/**
 * Opens a ledger to read it while its replica may be running: a LedgerReader (no LOCK, no
 * writes). A reader refuses a damaged ledger outright; then the locking store, opened
 * tolerant of corruption, serves what precedes the damage so audit can name the block —
 * possible only while no replica holds the ledger, otherwise the reader's error (file,
 * offset, height) is the answer.
 */
export async function openLedgerForReading(dir: string): Promise<AuditedLedger & Pick<LedgerReader, 'readHeader' | 'readEvents' | 'readStream'> & { close(): unknown }> {
  try {
    return openLedgerReader(dir)
  } catch (e) {
    if ((e as ZixtError).code !== ErrorCode.corrupt) throw e
    try {
      return await openLedger(dir, true)
    } catch {
      throw e
    }
  }
}

/** What audit reads; a LedgerReader (the CLI: beside a running replica) and a LedgerStore both have it. */
export type AuditedLedger = Pick<LedgerReader, 'height' | 'eventCount' | 'corruption' | 'readBlock' | 'treeHeadsCovering'>

export async function auditLedger(store: AuditedLedger, genesis: Genesis, crypto: CryptoFacade, options: AuditOptions | Progress = {}): Promise<AuditReport> {
  const o: AuditOptions = typeof options === 'function' ? { onProgress: options } : options
  const onProgress = o.onProgress
  const started = performance.now()
  const hash = crypto.sha3_256
  const quorum = 2 * genesis.f + 1
  let blocks = 0
  let commands = 0
  let treeHeads = 0
  let uncovered: Uncovered | null = null
  try {
    try {
      verifyGenesis(genesis, crypto)
    } catch (e) {
      fail(null, 'genesis', `genesis does not verify: ${(e as Error).message}`)
    }
    const keys: Keys = genesis.replicas.map((r) => ({ publicKey: r.operationalPublicKey, keyId: operationalKeyId(r.operationalPublicKey, crypto) }))
    const heads = collectTreeHeads(store)
    const sizes = new Set(heads.map((h) => h.treeSize))
    const roots = new Map<number, Uint8Array>()
    if (sizes.has(0)) roots.set(0, GENESIS_TIP.frontier.root(hash))
    let tip: ChainTip = GENESIS_TIP
    let streams = new Map<string, StreamHead>()
    let state: LedgerState = genesisState(genesis)
    let lastReport = 0
    for (let h = 0; h < store.height + 1; h++) {
      let block: Block
      try {
        block = store.readBlock(h)
      } catch (e) {
        fail(h, 'block record', (e as Error).message)
      }
      // replay first: it names the exact event that differs from what its command produces
      state = replay(block!, state, crypto)
      const check = verifyBlock(block!, tip, hash, streams)
      if (check.kind === 'invalid') fail(h, recordName(block!, check.field), `${check.field}: ${check.reason}`)
      if (check.kind !== 'valid') break
      verifyCertificate(block!, keys, quorum, crypto, hash)
      rotateKeys(block!, keys, crypto)
      for (let i = 0; i < block!.events.length; i++) {
        const size = tip.frontier.size + i + 1
        if (sizes.has(size) && size !== check.tip.frontier.size) {
          const leaves = block!.events.slice(0, i + 1).map((e) => eventBytesHash(encodeEvent(e), hash))
          roots.set(size, tip.frontier.appendAll(leaves, hash).root(hash))
        }
      }
      tip = check.tip
      if (sizes.has(tip.frontier.size)) roots.set(tip.frontier.size, tip.frontier.root(hash))
      streams = mergeStreamHeads(streams, check.heads)
      blocks++
      commands += block!.commands.length
      if (onProgress !== undefined && performance.now() - lastReport > 250) {
        lastReport = performance.now()
        onProgress({ height: h, blocks: store.height + 1, events: tip.frontier.size, seconds: (performance.now() - started) / 1000 })
      }
    }
    if (store.corruption !== null) fail(store.height + 1, 'block record', store.corruption.message)
    const events = tip.frontier.size
    const coverage = verifyTreeHeads(heads, roots, genesis, events, crypto)
    treeHeads = heads.length
    const covered = coverage.sizes[quorum - 1] ?? 0 // events below this size are covered by ≥ 2f+1 replicas
    if (covered < events) {
      uncovered = { count: events - covered, fromPosition: covered, toPosition: events - 1, replicasCovering: coverage.sizes.filter((s) => s > covered).length }
      if (o.requireCovered === true) {
        fail(null, `event at position ${covered}`, `covered by signed tree heads of ${uncovered.replicasCovering} replicas, 2f+1 = ${quorum} needed`)
      }
    }
    return { ok: true, blocks, events, commands, treeHeads, uncovered, seconds: (performance.now() - started) / 1000, problem: null }
  } catch (e) {
    if (!(e instanceof Found)) throw e
    return { ok: false, blocks, events: store.eventCount, commands, treeHeads, uncovered, seconds: (performance.now() - started) / 1000, problem: e.problem }
  }
}

function recordName(block: Block, field: string): string {
  const m = /^events\[(\d+)\]/.exec(field)
  if (m !== null) {
    const e = block.events[Number(m[1])]
    return `event ${m[1]} (position ${e?.position ?? '?'})`
  }
  return field.startsWith('header') ? 'header' : field
}

function verifyCertificate(block: Block, keys: Keys, quorum: number, crypto: CryptoFacade, hash: CryptoFacade['sha3_256']): void {
  const h = block.header.height
  const message = commitMessage(block.header.view, h, blockHash(block.header, hash))
  const signers = new Set<number>()
  block.certificate.forEach((s, i) => {
    const key = keys[s.replica]
    const record = `certificate signature ${i} (replica ${s.replica})`
    if (key === undefined) fail(h, record, `replica ${s.replica} is not in genesis`)
    if (signers.has(s.replica)) fail(h, record, `replica ${s.replica} signed twice`)
    if (s.keyId !== key!.keyId) fail(h, record, `key ${s.keyId} is not replica ${s.replica}'s operational key at height ${h} (${key!.keyId})`)
    if (s.signature.length !== crypto.mlDsa65.signatureBytes || !crypto.mlDsa65.verify(key!.publicKey, message, s.signature)) {
      fail(h, record, `ML-DSA-65 commit signature does not verify`)
    }
    signers.add(s.replica)
  })
  if (signers.size < quorum) fail(h, 'certificate', `${signers.size} valid commit signatures, 2f+1 = ${quorum} needed`)
}

function replay(block: Block, state: LedgerState, crypto: CryptoFacade): LedgerState {
  const h = block.header.height
  let next = state
  let at = 0
  block.commands.forEach((bytes, i) => {
    const r = executeCommand(next, bytes, { height: h, time: block.header.time, position: next.nextPosition }, crypto)
    if (r.kind === 'rejected') fail(h, `command ${i}`, `replay rejects it: ${r.code} ${r.reason}`)
    if (r.kind !== 'accepted') return
    for (const e of r.events) {
      const recorded = block.events[at]
      if (recorded === undefined) fail(h, `command ${i}`, `replay produces event ${e.type} at position ${e.position}, which the block does not record`)
      if (!equalBytes(encodeEvent(e), encodeEvent(recorded!))) {
        fail(h, `event ${at} (position ${recorded!.position})`, `recorded ${recorded!.type} differs from what replaying command ${i} produces (${e.type})`)
      }
      at++
    }
    next = r.state
  })
  if (at !== block.events.length) fail(h, `event ${at} (position ${block.events[at]!.position})`, 'recorded, but no command produces it')
  return next
}

function rotateKeys(block: Block, keys: Keys, crypto: CryptoFacade): void {
  for (const e of block.events) {
    if (e.type !== 'ReplicaKeyRotated') continue
    const pk = fromBase64url(e.payload['operationalPublicKey'] as string)
    keys[e.payload['replica'] as number] = { publicKey: pk, keyId: operationalKeyId(pk, crypto) }
  }
}

/** Every stored tree head, in order of size (the store serves the smallest per replica above a size). */
function collectTreeHeads(store: AuditedLedger): SignedTreeHead[] {
  const out: SignedTreeHead[] = []
  const seen = new Set<string>()
  for (let s = 0, guard = 0; guard < 1_000_000; guard++) {
    const hs = store.treeHeadsCovering(s)
    if (hs.length === 0) break
    for (const h of hs) {
      const k = `${h.replica}/${h.treeSize}`
      if (!seen.has(k)) out.push(h)
      seen.add(k)
    }
    s = Math.min(...hs.map((h) => h.treeSize)) + 1
  }
  return out
}

/**
 * Every tree head that exists must match: its root equals the recomputed tree at its size
 * and its SLH-DSA signature verifies. Heads beyond the audited events (signed after the
 * snapshot of a live ledger) are checked by signature only. Returns each replica's largest
 * matching size, largest first.
 */
function verifyTreeHeads(heads: SignedTreeHead[], roots: Map<number, Uint8Array>, genesis: Genesis, events: number, crypto: CryptoFacade): { sizes: number[] } {
  const best = new Map<number, number>() // replica → largest valid size
  for (const th of heads) {
    const record = `tree head of replica ${th.replica} at size ${th.treeSize}`
    const replica = genesis.replicas[th.replica]
    if (replica === undefined) fail(null, record, `replica ${th.replica} is not in genesis`)
    if (!crypto.slhDsaShake256f.verify(replica!.identityPublicKey, treeHeadMessage(th), th.signature)) fail(null, record, 'SLH-DSA signature does not verify')
    if (th.treeSize > events) continue
    const root = roots.get(th.treeSize)
    if (root === undefined || !equalBytes(root, th.treeRoot)) fail(null, record, 'its root does not match the recomputed event tree')
    best.set(th.replica, Math.max(best.get(th.replica) ?? 0, th.treeSize))
  }
  return { sizes: [...best.values()].sort((a, b) => b - a) }
}

function describe(p: AuditProblem): string {
  return `${p.height === null ? '' : `block ${p.height}, `}${p.record}: ${p.reason}`
}

export async function main(args: string[]): Promise<number> {
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`)
    return i < 0 ? undefined : args[i + 1]
  }
  const json = args.includes('--json')
  const requireCovered = args.includes('--require-covered')
  const data = flag('data') ?? process.env['ZIXT_DATA']
  if (data === undefined) {
    process.stderr.write('usage: zixt audit --data DIR [--genesis FILE] [--replica I] [--require-covered] [--json]\n')
    return 2
  }
  const paths = ledgerPaths(data, { replica: flag('replica') === undefined ? undefined : Number(flag('replica')), genesis: flag('genesis') })
  if (paths.genesisFile === null) {
    process.stderr.write(`audit: no genesis.cbor found next to ${paths.ledgerDir}; pass --genesis FILE\n`)
    return 2
  }
  const genesis = decodeGenesis(new Uint8Array(readFileSync(paths.genesisFile)))
  let store: Awaited<ReturnType<typeof openLedgerForReading>>
  try {
    store = await openLedgerForReading(paths.ledgerDir)
  } catch (e) {
    const r = { ok: false, problem: { height: null, record: 'ledger', reason: (e as Error).message } }
    process.stdout.write(json ? JSON.stringify(r) + '\n' : `audit: FAILED ${describe(r.problem)}\n`)
    return 1
  }
  try {
    const report = await auditLedger(store, genesis, nativeCrypto, {
      requireCovered,
      onProgress: ({ height, blocks, events, seconds }) => {
        process.stderr.write(`\raudit: block ${height + 1}/${blocks}, ${events} events, ${Math.round(events / Math.max(seconds, 1e-3))} events/s `)
      },
    })
    process.stderr.write('\n')
    const u = report.uncovered
    const pending = u === null ? '' : `; ${u.count} newest events (positions ${u.fromPosition}…${u.toPosition}) not yet covered by 2f+1 tree heads (${u.replicasCovering} replicas so far)`
    if (json) process.stdout.write(JSON.stringify(report) + '\n')
    else if (report.ok) process.stdout.write(`audit: OK — ${report.blocks} blocks, ${report.commands} commands, ${report.events} events, ${report.treeHeads} tree heads in ${report.seconds.toFixed(1)} s${pending}\n`)
    else process.stdout.write(`audit: FAILED ${describe(report.problem!)}\n`)
    return report.ok ? 0 : 1
  } finally {
    await store.close()
  }
}
