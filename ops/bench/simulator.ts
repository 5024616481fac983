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

/** What went wrong in one run, each kind as its table column names it (empty: nothing). Crash runs do not compare ledgers. */
export function problemsOf(r: SimResult, byzantine: boolean): Map<'unsafe' | 'left unanswered' | 'ledgers differ', string> {
  const out = new Map<'unsafe' | 'left unanswered' | 'ledgers differ', string>()
  if (r.violations.length > 0) out.set('unsafe', `safety: ${r.violations[0]}`)
  if (r.acknowledged !== r.submitted) out.set('left unanswered', `${r.submitted - r.acknowledged} of ${r.submitted} unanswered`)
  if (byzantine && !r.ledgerMatches) out.set('ledgers differ', 'ledgers differ')
  return out
}

export async function main(args: string[]): Promise<void> {
  const opts = parseOptions(args)
  const from = numberOption(opts, 'from', 1, { min: 0, integer: true })
  const to = numberOption(opts, 'to', 40, { min: 0, integer: true })
  const commands = numberOption(opts, 'commands', 120, { min: 1, integer: true })
  if (to < from) throw new OptionError(`--to ${to} is below --from ${from}`)
  const byLabel = new Map<string, { run: string; runs: number; unsafe: number; 'left unanswered': number; 'ledgers differ': number; views: number }>()
  const failures: string[] = []
  const t0 = performance.now()
  for (let seed = from; seed <= to; seed++) {
    for (const { label, options } of runsOf(seed, commands)) {
      const r = simulate(options)
      const row = byLabel.get(label) ?? { run: label, runs: 0, unsafe: 0, 'left unanswered': 0, 'ledgers differ': 0, views: 0 }
      row.runs++
      row.views += r.maxView
      const problems = problemsOf(r, options.byzantine !== undefined)
      for (const kind of problems.keys()) row[kind]++
      byLabel.set(label, row)
      if (problems.size > 0) failures.push(`seed ${seed} ${label}: ${[...problems.values()].join('; ')}`)
    }
  }
  const rows: Row[] = [...byLabel.values()].map(({ views, ...v }) => ({ ...v, 'mean views': views / v.runs }))
  const total = rows.reduce((n, r) => n + (r.runs as number), 0)
  report('simulator', rows, {
    options: { from, to, commands },
    notes: [
      `${total} runs, seeds ${from}–${to}, in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${failures.length} failed`,
      ...failures,
    ],
  })
}
