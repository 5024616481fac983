// `npm run bench -- simulator [--from 1] [--to 40] [--commands 120]`: a stress run of the
// consensus simulator (not in CI, which runs a few seeds of each case): for every seed, each
// Byzantine behaviour with the primary fixed and rotating every 3 blocks, plus a crash and
// restart (the disk wiped on even seeds), all on a lossy network that heals at 2.5 s. Counts
// safety violations, runs that left a command unanswered at the 120-s limit and Byzantine
// runs whose correct replicas hold different ledgers; prints each failing run to replay.
import { behaviours, lossy, simulate, type SimOptions, type SimResult } from '../../consensus/simulator/simulator.ts'
import { numberOption, OptionError, parseOptions, report, type Row } from './common.ts'

type Run = { readonly label: string; readonly options: SimOptions }

/** The runs of one seed, each with the label its row and failure line carry. */
export function runsOf(seed: number, commands: number): Run[] {
  const base = { seed, commands, submitEveryMs: 3, ...lossy }
  const runs: Run[] = behaviours.flatMap((behaviour) => [undefined, 3].map((rotate) => ({
    label: `${behaviour}${rotate === undefined ? '' : ' rotating'}`,
    options: { ...base, config: { batchCommandsMax: 4, ...(rotate === undefined ? {} : { rotateEveryBlocks: rotate }) }, byzantine: { replica: seed % 4, behaviour } },
  })))
  runs.push({ label: 'crash', options: { ...base, crash: { replica: seed % 4, atMs: 200, restartAtMs: 1500, wipe: seed % 2 === 0 } } })
  return runs
}

/** What went wrong in one run, or null. */
export function failureOf(r: SimResult, byzantine: boolean): string | null {
  const what: string[] = []
  if (r.violations.length > 0) what.push(`safety: ${r.violations[0]}`)
  if (r.acknowledged !== r.submitted) what.push(`${r.submitted - r.acknowledged} of ${r.submitted} unanswered`)
  if (byzantine && !r.ledgerMatches) what.push('ledgers differ')
  return what.length === 0 ? null : what.join('; ')
}

export async function main(args: string[]): Promise<void> {
  const opts = parseOptions(args)
  const from = numberOption(opts, 'from', 1, { min: 0, integer: true })
  const to = numberOption(opts, 'to', 40, { min: 0, integer: true })
  const commands = numberOption(opts, 'commands', 120, { min: 1, integer: true })
  if (to < from) throw new OptionError(`--to ${to} is below --from ${from}`)
  const byLabel = new Map<string, { runs: number; unsafe: number; unanswered: number; ledger: number; views: number }>()
  const failures: string[] = []
  const t0 = performance.now()
  for (let seed = from; seed <= to; seed++) {
    for (const { label, options } of runsOf(seed, commands)) {
      const r = simulate(options)
      const row = byLabel.get(label) ?? { runs: 0, unsafe: 0, unanswered: 0, ledger: 0, views: 0 }
      row.runs++
      row.views += r.maxView
      if (r.violations.length > 0) row.unsafe++
      if (r.acknowledged !== r.submitted) row.unanswered++
      if (options.byzantine !== undefined && !r.ledgerMatches) row.ledger++
      byLabel.set(label, row)
      const failure = failureOf(r, options.byzantine !== undefined)
      if (failure !== null) failures.push(`seed ${seed} ${label}: ${failure}`)
    }
  }
  const rows: Row[] = [...byLabel].map(([run, v]) => ({ run, runs: v.runs, unsafe: v.unsafe, 'left unanswered': v.unanswered, 'ledgers differ': v.ledger, 'mean views': v.views / v.runs }))
  const total = rows.reduce((n, r) => n + (r.runs as number), 0)
  report('simulator', rows, {
    options: { from, to, commands },
    notes: [
      `${total} runs, seeds ${from}–${to}, in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${failures.length} failed`,
      ...failures,
    ],
  })
}
