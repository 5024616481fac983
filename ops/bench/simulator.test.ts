import t from 'tap'
import { behaviours } from '../../consensus/simulator/simulator.ts'
import { problemsOf, runsOf } from './simulator.ts'

t.test('a seed runs each behaviour fixed and rotating, and one crash', async (t) => {
  const runs = runsOf(7, 50)
  t.equal(behaviours.length, 8)
  t.equal(runs.length, 2 * behaviours.length + 1)
  t.equal(new Set(runs.map((r) => r.label)).size, runs.length, 'labels are distinct')
  t.ok(runs.every((r) => r.options.seed === 7 && r.options.commands === 50))
  t.equal(runs.filter((r) => r.options.config?.rotateEveryBlocks === 3).length, behaviours.length)
  t.same(runs.at(-1)!.options.crash, { replica: 3, atMs: 200, restartAtMs: 1500, wipe: false })
})

t.test('a run fails on a violation, an unanswered command, or differing ledgers of a Byzantine run', async (t) => {
  const ok = { violations: [], acknowledged: 10, submitted: 10, ledgerMatches: true } as unknown as Parameters<typeof problemsOf>[0]
  t.same([...problemsOf(ok, true)], [])
  t.same([...problemsOf({ ...ok, acknowledged: 9 }, false)], [['left unanswered', '1 of 10 unanswered']])
  t.same([...problemsOf({ ...ok, violations: ['height 3: two blocks'] }, false)], [['unsafe', 'safety: height 3: two blocks']])
  t.same([...problemsOf({ ...ok, ledgerMatches: false }, true)], [['ledgers differ', 'ledgers differ']])
  t.same([...problemsOf({ ...ok, ledgerMatches: false }, false)], [], 'crash runs do not compare ledgers')
})
