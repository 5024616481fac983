import t from 'tap'
import { failureOf, runsOf } from './simulator.ts'

t.test('a seed runs each behaviour fixed and rotating, and one crash', async (t) => {
  const runs = runsOf(7, 50)
  t.equal(runs.length, 15)
  t.equal(new Set(runs.map((r) => r.label)).size, 15, 'labels are distinct')
  t.ok(runs.every((r) => r.options.seed === 7 && r.options.commands === 50))
  t.equal(runs.filter((r) => r.options.config?.rotateEveryBlocks === 3).length, 7)
  t.same(runs.at(-1)!.options.crash, { replica: 3, atMs: 200, restartAtMs: 1500, wipe: false })
})

t.test('a run fails on a violation, an unanswered command, or differing ledgers of a Byzantine run', async (t) => {
  const ok = { violations: [], acknowledged: 10, submitted: 10, ledgerMatches: true } as unknown as Parameters<typeof failureOf>[0]
  t.equal(failureOf(ok, true), null)
  t.equal(failureOf({ ...ok, acknowledged: 9 }, false), '1 of 10 unanswered')
  t.equal(failureOf({ ...ok, violations: ['height 3: two blocks'] }, false), 'safety: height 3: two blocks')
  t.equal(failureOf({ ...ok, ledgerMatches: false }, true), 'ledgers differ')
  t.equal(failureOf({ ...ok, ledgerMatches: false }, false), null, 'crash runs do not compare ledgers')
})
