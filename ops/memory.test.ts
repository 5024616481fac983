// A process's own memory figures: V8 spaces, and the heap used right after a full collection.
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { heapSpacesMB, trackLiveHeap } from './memory.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

t.test('spaces: new and old are there, in MB', async (t) => {
  const s = heapSpacesMB()
  t.ok(s['new']! >= 0 && s['old']! > 0, `new ${s['new']} MB, old ${s['old']} MB`)
})

t.test('live heap: set by a full collection, ≈ heap used then, follows what is kept', async (t) => {
  const live = trackLiveHeap()
  t.teardown(() => live.stop())
  gc()
  await new Promise((r) => setTimeout(r, 50)) // gc entries reach observers asynchronously
  const before = live.mb
  t.type(before, 'number', 'a full collection was seen')
  t.ok(Math.abs(before! - process.memoryUsage().heapUsed / 2 ** 20) < 16, 'about the heap used then')
  const kept = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `k${i}` })) // ≈ 20+ MB alive
  gc()
  await new Promise((r) => setTimeout(r, 50))
  t.ok(live.mb! - before! > 10, `what is kept shows (${before!.toFixed(0)} → ${live.mb!.toFixed(0)} MB, ${kept.length} objects)`)
  live.stop()
  gc()
  await new Promise((r) => setTimeout(r, 50))
  const stopped = live.mb
  kept.length = 0
  gc()
  await new Promise((r) => setTimeout(r, 50))
  t.equal(live.mb, stopped, 'stopped: no longer follows')
})
