// The soak's memory verdict: a process whose caches filled and stayed level passes, one
// that still grows in the last third fails, and runs too short to tell are not judged.
import t from 'tap'
import { growth, heapFloor, memoryParts, memoryVerdict } from './soak.ts'

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

/** A replica's samples every 2 s for 30 min: heap total, live heap and RSS outside the heap by minute. */
function replica(heapTotal: (m: number) => number, live: (m: number) => number, outside: (m: number) => number) {
  return Array.from({ length: 30 * 30 + 1 }, (_, i) => {
    const m = (i * 2000) / minute
    return { at: i * 2000, rssMb: heapTotal(m) + outside(m), heapTotalMb: heapTotal(m), liveMb: live(m) }
  })
}
const judge = (run: ReturnType<typeof replica>) => memoryVerdict('replica 2', growth(run.map((x) => ({ at: x.at, mb: x.rssMb }))), 30, 'replica 1', memoryParts(run))
// The live heap moves a little at each full collection (one every 2 minutes here).
const liveLevel = (m: number): number => 48 + (Math.floor(m / 2) % 3)
// Heap total saws: refills over 10 minutes after each compaction, the last one at minute 20.
const saw = (m: number): number => (m < 20 ? 100 + 3 * (m % 10) : 100 + 3 * (m - 20))

t.test('heap total refilling after a compaction is not growth; a leak in any part is', async (t) => {
  const sawing = replica(saw, liveLevel, () => 130)
  t.match(memoryVerdict('replica 2', growth(sawing.map((x) => ({ at: x.at, mb: x.rssMb }))), 30, 'replica 1').text, /^STILL GROWING/, 'RSS alone reads the refill as growth')
  t.match(judge(sawing).text, /^levels off \(live heap [+-]\d/, 'by its parts it levels off')
  t.match(judge(replica(saw, (m) => liveLevel(m) + 2 * m, () => 130)).text, /^STILL GROWING: live heap \(/, 'JS data kept: 2 MB/min')
  t.match(judge(replica(saw, liveLevel, (m) => 130 + 2 * m)).text, /^STILL GROWING: outside the heap \(/, 'native memory: 2 MB/min')
  t.match(judge(replica((m) => saw(m) + 2 * m, liveLevel, () => 130)).text, /STILL GROWING: heap total \(/, 'a heap whose peaks keep rising')
  t.match(judge(replica(saw, () => 48, () => 130)).text, /^STILL GROWING \(.*RSS alone: no full collection/, 'no full collection in the last third: RSS decides')
  t.equal(memoryParts([{ at: 0, rssMb: 100 }, { at: 1, rssMb: 100 }, { at: 2, rssMb: 100 }]), null, 'a process that reports no heap has no parts')
})
