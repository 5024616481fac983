import t from 'tap'
import { msToTreeHeadSlot } from './treeHeads.ts'

t.test('replicas sign tree heads in turns: slots interval apart, replica i shifted by i·interval/n', async (t) => {
  const interval = 2000
  const n = 4
  const now = 1_796_282_299_001
  const at = (i: number): number => now + msToTreeHeadSlot(now, interval, i, n)
  for (let i = 0; i < n; i++) {
    const d = msToTreeHeadSlot(now, interval, i, n)
    t.ok(d > 0 && d <= interval, `replica ${i}: next slot within one interval (${d} ms)`)
    t.equal((at(i) - (i * interval) / n) % interval, 0, `replica ${i}: its slot is on its own phase`)
  }
  const phases = Array.from({ length: n }, (_, i) => at(i) % interval).sort((a, b) => a - b)
  for (let k = 1; k < n; k++) t.equal(phases[k]! - phases[k - 1]!, interval / n, 'consecutive replicas are interval/n apart')
  t.equal(msToTreeHeadSlot(10_000, interval, 0, n), interval, 'exactly on a slot: the next one is a whole interval away')
  t.equal(msToTreeHeadSlot(10_499, interval, 1, n), 1, 'one ms before replica 1\'s slot')
  t.equal(msToTreeHeadSlot(10_501, interval, 1, n), interval - 1, 'one ms after it')
  t.equal(msToTreeHeadSlot(0, 1000, 3, 7), Math.floor(3000 / 7), 'an interval that n does not divide: floor of the offset')
})
