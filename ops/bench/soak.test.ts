// The soak's memory verdict: a process whose caches filled and stayed level passes, one
// that still grows in the last third fails, and runs too short to tell are not judged.
import t from 'tap'
import { growth, heapFloor, memoryVerdict } from './soak.ts'

const minute = 60_000
/** RSS sampled every 2 s for `minutes`, from f(minute). */
const samples = (minutes: number, f: (m: number) => number) => Array.from({ length: minutes * 30 + 1 }, (_, i) => ({ at: i * 2000, mb: f((i * 2000) / minute) }))

t.test('filled caches, then level: levels off; a leak: still growing', async (t) => {
  const level = growth(samples(30, (m) => 200 + 150 * Math.min(1, m / 11)))
  t.ok(level.slopeMbPerMin > 2, `the whole run still shows the fill (${level.slopeMbPerMin.toFixed(2)} MB/min)`)
  t.ok(Math.abs(level.lastThirdSlopeMbPerMin) < 1e-9, 'the last third is flat')
  t.match(memoryVerdict('replica 0', level, 30, 'replica 1').text, /^levels off/)
  const leak = growth(samples(30, (m) => 200 + 3 * m))
  t.ok(Math.abs(leak.lastThirdSlopeMbPerMin - 3) < 1e-6, 'slope of a straight line')
  t.match(memoryVerdict('replica 0', leak, 30, 'replica 1').text, /^STILL GROWING \(\+30\.0 MB/)
  const slow = growth(samples(30, (m) => 400 + 0.5 * m)) // 5 MB in the last third of a 400-MB process
  t.match(memoryVerdict('web+ingest+projections', slow, 30, 'replica 1').text, /^levels off/)
})

t.test('not judged: a short run, the restarted replica, the load generator', async (t) => {
  const leak = growth(samples(10, (m) => 200 + 3 * m))
  t.match(memoryVerdict('replica 0', leak, 10, 'replica 1').text, /^not judged \(run < 18 min/)
  const long = growth(samples(30, (m) => 200 + 3 * m))
  t.match(memoryVerdict('replica 1', long, 30, 'replica 1').text, /^not judged \(restarted/)
  t.match(memoryVerdict('loadgen', long, 30, 'replica 1').text, /^not judged \(the bench/)
})

t.test('heap floor: the lowest reading of each minute follows the live data under the sawtooth', async (t) => {
  // live data level at 60 MB, garbage saws 0–40 MB on top with a 50-s period
  const level = Array.from({ length: 30 * 30 }, (_, i) => ({ at: i * 2000, heapUsedMb: 60 + ((i * 2) % 50) * 0.8 }))
  const floor = heapFloor(level)
  t.equal(floor.length, 30, 'one point a minute')
  t.ok(floor.every((p) => p.mb >= 60 && p.mb < 62), 'the floor is the live data')
  t.ok(Math.abs(growth(floor).lastThirdSlopeMbPerMin) < 0.1, 'flat')
  const leaking = Array.from({ length: 30 * 30 }, (_, i) => ({ at: i * 2000, heapUsedMb: 60 + (i * 2000) / minute + ((i * 2) % 50) * 0.8 }))
  t.ok(Math.abs(growth(heapFloor(leaking)).lastThirdSlopeMbPerMin - 1) < 0.1, 'a leak of 1 MB/min shows in the floor')
  t.same(heapFloor([{ at: 0 }, { at: 1000 }]), [], 'no heap readings: no floor')
})
