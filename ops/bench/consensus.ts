// `npm run bench -- consensus [--seconds 5] [--saturation 6000] [--rates 100,200,500,1000] [--tree-head-ms 10000]
// [--retransmit-ms 1000] [--propose-interval-ms 0] [--window 1000]`: a real 4-replica cluster
// (separate processes, TLS, ML-DSA, fsync per block) on this machine, fed pre-signed
// PostMessage commands through the consensus client.
//   - committed commands/s at saturation (everything submitted at once),
//   - commit latency p50/p99 (submit → f+1 matching replies) at offered loads of 100, 200,
//     500 and 1,000 commands/s (open loop),
//   - the CPU bound implied by signature verification: every replica verifies every
//     command's ML-DSA-65 signature, so n·t_verify CPU-seconds per command on this many cores;
//   - CPU per committed command, per replica (from /proc, all its threads) and in this
//     process (the client), and the replica's figure in verifications: the machine's speed
//     moves between runs, the ratio to t_verify much less.
import { cpus } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nativeCrypto } from '../../domain/crypto/native.ts'
import { startCluster } from '../../consensus/cluster.ts'
import { defaultReplicaConfig } from '../../consensus/config.ts'
import { defaultTreeHeadIntervalMs } from '../../consensus/treeHeads.ts'
import { defaultWindowMax, type ConsensusClient } from '../../consensus/client.ts'
import { makeWorkload, type Workload } from '../../consensus/testing/workload.ts'
import { numberOption, numbersOption, parseOptions, report, type Row } from './common.ts'
import { readProc } from './e2e/procstat.ts'

const crypto = nativeCrypto

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function presign(w: Workload, count: number, tag: string): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < count; i++) out.push(w.message(`${tag} ${i} ${'x'.repeat(64)}`))
  return out
}

async function saturation(client: ConsensusClient, commands: readonly Uint8Array[]): Promise<Row> {
  const t0 = performance.now()
  const results = await Promise.all(commands.map((c) => client.submit(c)))
  const ms = performance.now() - t0
  const committed = results.filter((r) => r.kind === 'committed').length
  return { run: 'saturation', offered: null, commands: commands.length, committed, 'commits/s': (committed / ms) * 1000, p50ms: null, p99ms: null }
}

/** Open loop: `rate` commands/s for as long as the commands last, each timed on its own. */
async function offered(client: ConsensusClient, commands: readonly Uint8Array[], rate: number): Promise<Row> {
  const latencies: number[] = []
  const pending: Promise<void>[] = []
  let committed = 0
  const t0 = performance.now()
  let next = 0
  const tickMs = 5
  while (next < commands.length) {
    const due = Math.min(commands.length, Math.floor(((performance.now() - t0) / 1000) * rate) + 1)
    for (; next < due; next++) {
      const sent = performance.now()
      pending.push(client.submit(commands[next]!).then((r) => {
        latencies.push(performance.now() - sent)
        if (r.kind === 'committed') committed++
      }))
    }
    await new Promise((r) => setTimeout(r, tickMs))
  }
  await Promise.all(pending)
  const ms = performance.now() - t0
  latencies.sort((a, b) => a - b)
  return { run: `offered ${rate}/s`, offered: rate, commands: commands.length, committed, 'commits/s': (committed / ms) * 1000, p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99) }
}

function verifyCost(w: Workload): number {
  const dsa = crypto.mlDsa65
  const kp = dsa.keygen()
  const msg = w.message('probe')
  const sig = dsa.sign(kp.secretKey, msg)
  const n = 300
  const t0 = performance.now()
  for (let i = 0; i < n; i++) dsa.verify(kp.publicKey, msg, sig)
  return (performance.now() - t0) / n
}

type CpuMark = { readonly replicasS: number; readonly clientMs: number }

function cpuMark(pids: readonly (number | undefined)[]): CpuMark {
  let replicasS = 0
  for (const pid of pids) replicasS += pid === undefined ? 0 : (readProc(pid)?.cpuS ?? 0)
  const u = process.cpuUsage()
  return { replicasS, clientMs: (u.user + u.system) / 1000 }
}

/** A run's row with the CPU each committed command cost, per replica and in the client. */
async function withCpu(client: ConsensusClient, pids: readonly (number | undefined)[], tVerify: number, run: () => Promise<Row>): Promise<Row> {
  const before = cpuMark(pids)
  const retransmitted = client.retransmissions()
  const row = await run()
  const after = cpuMark(pids)
  const committed = row.committed as number
  const perReplica = ((after.replicasS - before.replicasS) * 1000) / pids.length / committed
  return { ...row, 'replica ms/cmd': perReplica, 'in verifies': perReplica / tVerify, 'client ms/cmd': (after.clientMs - before.clientMs) / committed, retransmitted: client.retransmissions() - retransmitted }
}

export async function main(args: string[]): Promise<number> {
  const opts = parseOptions(args)
  const seconds = numberOption(opts, 'seconds', 5, { min: 1 })
  const saturationCount = numberOption(opts, 'saturation', 6000, { min: 0, integer: true })
  const treeHeadIntervalMs = numberOption(opts, 'tree-head-ms', defaultTreeHeadIntervalMs, { min: 0 })
  const rates = numbersOption(opts, 'rates', [100, 200, 500, 1000])
  const proposeIntervalMs = numberOption(opts, 'propose-interval-ms', defaultReplicaConfig().proposeIntervalMs, { min: 0 })
  const retransmitMs = numberOption(opts, 'retransmit-ms', 1000, { min: 1 }) // the client's default, as ingest runs it
  const windowMax = numberOption(opts, 'window', defaultWindowMax, { min: 1, integer: true }) // commands out at the replicas at once
  const dir = mkdtempSync(join(tmpdir(), 'zixt-bench-consensus-'))
  process.stdout.write(`consensus bench: data in ${dir}; pre-signing commands…\n`)
  const suspicions: string[] = []
  const cluster = await startCluster({
    dataDir: dir, replica: { viewTimeoutMs: 3000, proposeIntervalMs }, treeHeadIntervalMs,
    onLog: (i, l) => { if (l.includes('suspecting') || l.includes('differs')) suspicions.push(`${i}: ${l}`) },
  })
  const client = cluster.client({ retransmitMs, deadlineMs: 120_000, windowMax })
  try {
    const w = makeWorkload(crypto, cluster.serviceKey)
    for (const s of w.setup) await client.submit(s)
    const tVerify = verifyCost(w)
    const batches = rates.map((r) => presign(w, Math.min(r * seconds, 20_000), `rate ${r}`))
    const warm = presign(w, 300, 'warm-up')
    const sat = presign(w, saturationCount, 'saturation')
    await saturation(client, warm)
    const n = cluster.genesis.replicas.length
    const pids = Array.from({ length: n }, (_, i) => cluster.pid(i))
    const rows: Row[] = [await withCpu(client, pids, tVerify, () => saturation(client, sat))]
    for (const [k, r] of rates.entries()) {
      process.stdout.write(`offered load ${r}/s…\n`)
      rows.push(await withCpu(client, pids, tVerify, () => offered(client, batches[k]!, r)))
    }
    const cores = cpus().length
    const bound = cores / (n * tVerify / 1000)
    const notes = [
      `ML-DSA-65 verify ${tVerify.toFixed(3)} ms; ${n} replicas verify every command on ${cores} cores → verification alone caps the cluster at ${Math.round(bound)} commands/s`,
      `saturation reached ${(((rows[0]!['commits/s'] as number) / bound) * 100).toFixed(0)}% of that bound (ratio ${((rows[0]!['commits/s'] as number) / bound).toFixed(2)})`,
      'latency = submit → f+1 matching replies, each replica replying after its fsync of the block',
      'replica ms/cmd: CPU per committed command of one replica (mean of all, every thread), also in ML-DSA-65 verifications; client ms/cmd: this process',
      `retransmitted: commands the client sent again after its ${retransmitMs}-ms timeout (--retransmit-ms)`,
      'targets: ≥ 1,000 commands/s sustained; p99 ≤ 50 ms at 200 commands/s',
      `view changes during the run: ${suspicions.length === 0 ? 'none' : suspicions.slice(0, 5).join(' | ')}`,
    ]
    const withBound = rows.map((r) => ({ ...r, 'vs verify bound': (r['commits/s'] as number) / bound }))
    report('consensus', withBound, { options: { seconds, saturationCount, treeHeadIntervalMs, proposeIntervalMs, windowMax, rates, tVerifyMs: tVerify, verifyBoundPerSec: bound }, notes })
    return 0
  } finally {
    client.close()
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
