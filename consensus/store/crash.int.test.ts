// Kill -9 a process that is appending, over and over, and check after each
// kill that every block it acknowledged survived, the chain verifies, and
// appending continues from where the store recovered.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { blockHash, GENESIS_TIP, verifyBlock, type ChainTip } from '../../domain/ledger/block.ts'
import { equalBytes } from '../../domain/ledger/codec.ts'
import { mergeStreamHeads, type StreamHead } from '../../domain/ledger/event.ts'
import { ChainBuilder } from '../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../domain/ledger/testing/prng.ts'
import { LedgerStore } from './ledgerStore.ts'
import { CRASH_STORE_OPTIONS } from './testing/crashChild.ts'

const KILLS = 50
const sha3 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash('sha3-256').update(d).digest())
const CHILD = new URL('./testing/crashChild.ts', import.meta.url).pathname

type Run = { acked: number; ready: boolean; killedBeforeReady: boolean }

/** Starts the child, kills it with SIGKILL after `delayMs` (counted from "ready" unless early), returns the heights it acknowledged. */
function runAndKill(dir: string, seed: number, delayMs: number, early: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let ready = false
    let timer: NodeJS.Timeout | null = null
    const kill = (): void => { child.kill('SIGKILL') }
    if (early) timer = setTimeout(kill, delayMs)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (!ready && out.includes('ready')) {
        ready = true
        timer ??= setTimeout(kill, delayMs)
      }
    })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code}: ${err}`))
      const heights = out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number)
      resolve({ acked: heights.length ? Math.max(...heights) : -1, ready, killedBeforeReady: !ready })
    })
  })
}

/** Verifies blocks after `from` against the chain so far; returns the new tip and heads. */
function verifyFrom(store: LedgerStore, from: { tip: ChainTip; heads: Map<string, StreamHead> }): { tip: ChainTip; heads: Map<string, StreamHead> } {
  let { tip, heads } = from
  if (tip.height >= 0 && !equalBytes(blockHash(store.readHeader(tip.height), sha3), tip.blockHash)) throw new Error(`block ${tip.height} changed`)
  for (let h = tip.height + 1; h <= store.height; h++) {
    const r = verifyBlock(store.readBlock(h), tip, sha3, heads)
    if (r.kind !== 'valid') throw new Error(`block ${h}: ${r.field} ${r.reason}`)
    tip = r.tip
    heads = mergeStreamHeads(heads, r.heads)
  }
  return { tip, heads }
}

t.test(`${KILLS} SIGKILLs during appends lose no acknowledged block`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zixt-crash-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const rng = seededRng(424242)
  let verified = { tip: GENESIS_TIP, heads: new Map<string, StreamHead>() }
  let ackedMax = -1
  let torn = 0
  let early = 0
  for (let i = 0; i < KILLS; i++) {
    const killEarly = rng.int(8) === 0 // sometimes during start-up and recovery
    const run = await runAndKill(dir, 1000 + i, killEarly ? rng.int(250) : 10 + rng.int(200), killEarly)
    if (run.killedBeforeReady) early++
    ackedMax = Math.max(ackedMax, run.acked)
    const store = await LedgerStore.open(dir, { hash: sha3, ...CRASH_STORE_OPTIONS })
    if (store.recovery !== null) torn++
    if (store.height < ackedMax) t.fail(`kill ${i}: acknowledged height ${ackedMax} but the store holds ${store.height}`)
    verified = verifyFrom(store, verified)
    if (!equalBytes(store.tip.blockHash, verified.tip.blockHash) || !equalBytes(store.tip.frontier.root(sha3), verified.tip.frontier.root(sha3))) {
      t.fail(`kill ${i}: the recovered tip differs from the verified chain`)
    }
    await store.close()
  }
  t.ok(ackedMax > KILLS, `the children acknowledged ${ackedMax + 1} blocks`)
  t.comment(`${KILLS} kills (${early} before ready), ${torn} torn tails truncated, ${readdirSync(dir).length - 1} segments, ${verified.tip.frontier.size} events`)

  // after the last kill: a clean open of the whole ledger, then appending continues
  const store = await LedgerStore.open(dir, { hash: sha3, ...CRASH_STORE_OPTIONS })
  const full = verifyFrom(store, { tip: GENESIS_TIP, heads: new Map() })
  t.same(full.tip.blockHash, verified.tip.blockHash, 'the whole hash chain verifies from genesis')
  t.same(store.readEvents(0, 10_000).length, Math.min(10_000, store.eventCount))
  const builder = new ChainBuilder(sha3, seededRng(1), { streams: 20 })
  builder.tip = store.tip
  builder.heads = full.heads
  for (let i = 0; i < 5; i++) await store.append(builder.next(4))
  t.equal(store.height, full.tip.height + 5, 'appending continues from the recovered tip')
  await store.close()
})
