// `npm run bench -- e2e [--users N] [--seconds S] [--rates 50,100,200,500] [--sample 50] [--propose-interval-ms 30]`
// The whole system under load: simulated users (client core in Node: ApiClient, ws, MLS)
// in MLS groups of 2, 10 and 50 members post messages through web → ingest → PBFT
// (4 replica processes) → ledger → projections → Redis → ws. Then, in the same run and
// with the same users, groups and ciphertexts, the baseline: the same web front end and ws
// hub with a relay bus (ingest/bus/relay.ts) instead of consensus, ledger and projections.
//
// Messages are pre-encrypted (pure-JS MLS: ~10 ms per encrypt), signed just before each
// timed phase, sent open loop; receivers match ws events by ledger position, and one
// checker member per group decrypts 1 in --sample of them afterwards (ledger order).
// Prints a table and writes bench-results/e2e-<time>.json and an HTML report.
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { join } from 'node:path'
import { environment, numberOption, numbersOption, parseOptions, printTable, resultsDir, type Row } from './common.ts'
import { analyze, dist, type RunFigures } from './e2e/analyze.ts'
import { startHarness, type Harness } from './e2e/harness.ts'
import { defaultReplicaConfig } from '../../consensus/config.ts'
import { systemReplicaTuning } from '../start.ts'
import type { PhaseSpec } from './e2e/protocol.ts'
import { renderReport } from './e2e/report.ts'

const log = (l: string): void => void process.stdout.write(`${l}\n`)

/** Thread sizes for N users: one 50-member group (N ≥ 80), five 2-member groups, the rest in 10-member groups. */
export function threadSizes(users: number): number[] {
  const sizes: number[] = []
  let left = users
  if (left >= 80) { sizes.push(50); left -= 50 }
  for (let i = 0; i < 5 && left >= 12; i++) { sizes.push(2); left -= 2 }
  for (let i = 0; left >= 10 && i < 100; i++) { sizes.push(10); left -= 10 }
  if (!sizes.includes(10)) throw new Error(`--users ${users}: need at least 10 users`)
  return sizes
}

export async function runPhase(h: Harness, p: PhaseSpec, label: 'zixt' | 'relay'): Promise<RunFigures> {
  h.relay.relaying = label === 'relay'
  // the web answers a command only once the projections show its position (read your
  // writes); relayed positions never reach the projections, so during relay runs the
  // bench makes that wait return at once (the relay stores nothing to read back)
  for (const app of h.sys.apps) {
    const ctx = app.hub.ctx as { waitForPosition(position: number): Promise<boolean> }
    const real = (ctx as { realWait?: (position: number) => Promise<boolean> }).realWait ??= ctx.waitForPosition.bind(ctx)
    ctx.waitForPosition = label === 'relay' ? async () => true : real
  }
  h.stages.clear()
  h.published.clear()
  // event-loop delay of this process (web + ingest + projections): a long delay means the
  // stages queue for this process's CPU, not for I/O
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  h.lookups.length = 0
  const cache = (h.sys.apps[0]!.hub.ctx as { accounts?: { hits: number; misses: number } }).accounts
  const cache0 = { hits: cache?.hits ?? 0, misses: cache?.misses ?? 0 }
  let conns = 0
  const server = h.sys.apps[0]!.server
  const poll = setInterval(() => server.getConnections((_e, n) => { conns = Math.max(conns, n) }), 200)
  const ran = await h.lg.call({ type: 'run', phase: p, label }, 'ran')
  clearInterval(poll)
  loop.disable()
  const look = dist([...h.lookups])
  const cached = cache === undefined ? '' : ` (session user/device cache: ${cache.hits - cache0.hits} hits, ${cache.misses - cache0.misses} misses)`
  log(`  ${label} ${p.id}: event-loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms; read-model look-ups p50 ${ms(look.p50)} ms, p99 ${ms(look.p99)} ms (${look.n})${cached}; HTTP connections ≤ ${conns}`)
  return analyze({ phase: p.id, label, threadSize: p.threadSize, offered: p.rate, records: ran.records, inversions: ran.inversions, stages: h.stages, published: h.published })
}

const ms = (n: number): number => Math.round(n * 10) / 10

export async function main(args: string[]): Promise<number> {
  const opts = parseOptions(args)
  const users = numberOption(opts, 'users', 110, { min: 10, integer: true })
  const seconds = numberOption(opts, 'seconds', 5, { min: 1 })
  const rates = numbersOption(opts, 'rates', [50, 100, 200, 500])
  const sampleEvery = numberOption(opts, 'sample', 50, { min: 1, integer: true })
  const proposeIntervalMs = numberOption(opts, 'propose-interval-ms', systemReplicaTuning.proposeIntervalMs ?? defaultReplicaConfig().proposeIntervalMs, { min: 0 })
  const sizes = threadSizes(users)
  const phases: PhaseSpec[] = [
    ...rates.map((rate) => ({ id: `g10-r${rate}`, threadSize: 10, rate, count: Math.min(20_000, Math.round(rate * seconds)) })),
    ...(sizes.includes(2) ? [{ id: 'g2-r100', threadSize: 2, rate: 100, count: 100 * seconds }] : []),
    ...(sizes.includes(50) ? [{ id: 'g50-r100', threadSize: 50, rate: 100, count: 100 * seconds }] : []),
  ]
  const warm: PhaseSpec = { id: 'warm-up', threadSize: 10, rate: 50, count: 100 }
  log(`e2e bench: ${users} users, groups ${sizes.join(', ')}; phases ${phases.map((p) => p.id).join(', ')} × ${seconds} s, each through Zixt then the relay`)
  const started = new Date()
  const h = await startHarness({ log, proposeIntervalMs })
  const figures: RunFigures[] = []
  let checks = { decrypted: 0, failed: 0, reordered: 0, problems: [] as string[] }
  try {
    const setup = await h.lg.call({ type: 'setup', spec: { url: h.sys.urls[0]!, tag: h.tag, threadSizes: sizes, sampleEvery } }, 'setupDone')
    log(`setup done: ${setup.threads.length} threads at epoch ${setup.threads[0]?.epoch}`)
    for (const p of [warm, ...phases]) await h.lg.call({ type: 'prepare', phase: p }, 'prepared')
    await runPhase(h, warm, 'zixt')
    await runPhase(h, warm, 'relay')
    await h.lg.call({ type: 'check' }, 'checked')
    for (const p of phases) {
      for (const label of ['zixt', 'relay'] as const) {
        const f = await runPhase(h, p, label)
        figures.push(f)
        log(`${label.padEnd(5)} ${p.id}: delivered ${f.deliveredPerS.toFixed(0)}/s, p50 ${ms(f.latency.p50)} ms, p99 ${ms(f.latency.p99)} ms, accepted ${f.accepted}/${f.sent}, missing deliveries ${f.deliveriesMissing}${Object.keys(f.errors).length > 0 ? `, errors ${JSON.stringify(f.errors)}` : ''}`)
        await new Promise((r) => setTimeout(r, 1000))
      }
      const c = (await h.lg.call({ type: 'check' }, 'checked')).result
      checks = { decrypted: checks.decrypted + c.decrypted, failed: checks.failed + c.failed, reordered: checks.reordered + c.reordered, problems: [...checks.problems, ...c.problems].slice(0, 20) }
    }
  } finally {
    await h.stop()
  }
  const cpu = figures.map((f) => ({ run: `${f.label} ${f.phase}`, procs: h.sampler.window(f.from, f.to) }))
  const rows: Row[] = figures.map((f) => ({
    run: `${f.label} ${f.phase}`, members: f.threadSize, offered: f.offered, 'sent/s': f.sentPerS, 'committed/s': f.committedPerS, 'delivered/s': f.deliveredPerS,
    p50ms: f.latency.p50, p95ms: f.latency.p95, p99ms: f.latency.p99,
    ingest: f.stages.ingest.p50, 'http→ingest': f.detail.http.p50, checks: f.detail.checks.p50, consensus: f.stages.consensus.p50, answer: f.detail.answer.p50, projection: f.stages.projection.p50, push: f.stages.push.p50,
    missing: f.deliveriesMissing, errors: Object.values(f.errors).reduce((a, b) => a + b, 0),
  }))
  printTable(rows)
  const ratios: Row[] = []
  for (const z of figures.filter((f) => f.label === 'zixt')) {
    const r = figures.find((f) => f.label === 'relay' && f.phase === z.phase)
    if (r === undefined) continue
    ratios.push({ phase: z.phase, 'throughput Zixt/relay': z.deliveredPerS / r.deliveredPerS, 'p50 Zixt/relay': z.latency.p50 / r.latency.p50, 'p99 Zixt/relay': z.latency.p99 / r.latency.p99 })
  }
  log('\nZixt / relay baseline:')
  printTable(ratios)
  log('\nCPU (1.0 = one core) and peak RSS (MB) per process, Zixt runs:')
  const procNames = [...new Set(cpu.flatMap((c) => Object.keys(c.procs)))]
  printTable(cpu.filter((c) => c.run.startsWith('zixt')).map((c) => Object.fromEntries([['run', c.run], ...procNames.map((n) => [n, c.procs[n] === undefined ? null : `${c.procs[n]!.cpu.toFixed(2)} / ${c.procs[n]!.rssMb.toFixed(0)}`])])))
  const target10 = figures.find((f) => f.label === 'zixt' && f.phase === 'g10-r500')
  const target100 = figures.find((f) => f.label === 'zixt' && f.phase === 'g10-r100')
  const notes = [
    `MLS: ${checks.decrypted} sampled ciphertexts (1 in ${sampleEvery} per group, by the group's checker, in ledger order) decrypted to the text sent at that position; ${checks.failed} failed; ${checks.reordered} not decryptable in ledger order because the load generator's concurrent sends put a later message of the same sender first${checks.problems.length > 0 ? `: ${checks.problems.join('; ')}` : ''}`,
    'messages were pre-encrypted before each timed phase (pure-JS MLS ≈10 ms per encrypt); receivers match ws events by position; the baseline relays the same ciphertexts',
    target10 === undefined ? 'target ≥ 500 msg/s (10-member groups): not run' : `target ≥ 500 msg/s delivered to every member of 10-member groups: ${target10.deliveredPerS.toFixed(0)}/s ${target10.deliveredPerS >= 500 ? 'MET' : 'NOT MET'}`,
    target100 === undefined ? 'target p99 ≤ 150 ms at 100 msg/s: not run' : `target send → delivered p99 ≤ 150 ms at 100 msg/s: ${target100.latency.p99.toFixed(0)} ms ${target100.latency.p99 <= 150 ? 'MET' : 'NOT MET'}`,
  ]
  for (const n of notes) log(`note: ${n}`)
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const dir = resultsDir()
  const jsonPath = join(dir, `e2e-${stamp}.json`)
  const htmlPath = join(dir, `e2e-${stamp}.html`)
  const body = { name: 'e2e', finishedAt: new Date().toISOString(), environment: environment(), options: { users, seconds, rates, sampleEvery, sizes, proposeIntervalMs }, notes, rows, ratios, cpu, figures, checks }
  writeFileSync(jsonPath, `${JSON.stringify(body, null, 2)}\n`)
  writeFileSync(htmlPath, renderReport(body))
  log(`results: ${jsonPath}\nreport: ${htmlPath}`)
  return 0
}
