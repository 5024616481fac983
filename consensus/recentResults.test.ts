// Results kept for retransmissions are bounded by count, by bytes and by age, oldest out first.
import t from 'tap'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import type { CommandResult } from './app.ts'
import { approxBytes, forgetOldResults, rememberResult, type RecentResults } from './replica.ts'

const committed = (payloadBytes: number): CommandResult => ({
  kind: 'committed', height: 1,
  // only the shape's sizes matter here: a ciphertext string and bytes of that length
  events: [{ payload: { ciphertext: 'x'.repeat(payloadBytes) }, bytes: new Uint8Array(payloadBytes) }] as unknown as EventEnvelope[],
})

t.test('approxBytes grows with strings and byte arrays, stays finite on deep values', async (t) => {
  t.ok(approxBytes(committed(10_000)) > 20_000, 'a 10-kB ciphertext and 10-kB bytes count')
  t.ok(approxBytes(committed(10)) < 1_000, 'a small result is small')
  let deep: unknown = 'leaf'
  for (let i = 0; i < 1000; i++) deep = { deep }
  t.ok(approxBytes(deep) < 10_000, 'depth is capped')
})

t.test('bounded by bytes: large results push the oldest out, the newest always stays', async (t) => {
  const r: RecentResults = { byId: new Map(), bytes: 0 }
  const config = { resultsCacheMax: 1000, resultsBytesMax: 100_000, resultsKeepMs: 60_000 }
  for (let i = 0; i < 20; i++) rememberResult(r, config, `c${i}`, committed(20_000), 0)
  t.ok(r.bytes <= 100_000, `≤ resultsBytesMax (${r.bytes})`)
  t.equal(r.byId.size, 2, 'two ~40-kB results fit 100 kB')
  t.ok(r.byId.has('c19'), 'the newest is kept')
  t.notOk(r.byId.has('c0'), 'the oldest went first')
  rememberResult(r, config, 'huge', committed(500_000), 0)
  t.same([...r.byId.keys()], ['huge'], 'one result larger than the budget is still kept (alone)')
  t.equal(r.bytes, approxBytes(committed(500_000)), 'the byte count follows what is kept')
})

t.test('bounded by count; the same id again replaces its entry', async (t) => {
  const r: RecentResults = { byId: new Map(), bytes: 0 }
  const config = { resultsCacheMax: 3, resultsBytesMax: 1 << 30, resultsKeepMs: 60_000 }
  const rejected: CommandResult = { kind: 'rejected', code: 'ZIXT_ERR_X', reason: 'r' }
  for (const id of ['a', 'b', 'c', 'd']) rememberResult(r, config, id, rejected, 0)
  t.same([...r.byId.keys()], ['b', 'c', 'd'])
  rememberResult(r, config, 'c', committed(100), 0)
  t.same([...r.byId.keys()], ['b', 'd', 'c'], 'moved to the newest place')
  t.equal(r.bytes, [...r.byId.values()].reduce((n, e) => n + e.bytes, 0), 'bytes stay the sum of what is kept')
})

t.test('bounded by age: a result older than resultsKeepMs goes, on the next result or tick', async (t) => {
  const r: RecentResults = { byId: new Map(), bytes: 0 }
  const config = { resultsCacheMax: 1000, resultsBytesMax: 1 << 30, resultsKeepMs: 1_000 }
  const rejected: CommandResult = { kind: 'rejected', code: 'ZIXT_ERR_X', reason: 'r' }
  rememberResult(r, config, 'a', rejected, 0)
  rememberResult(r, config, 'b', rejected, 500)
  rememberResult(r, config, 'c', rejected, 1_000)
  t.same([...r.byId.keys()], ['a', 'b', 'c'], 'exactly resultsKeepMs old is still kept')
  rememberResult(r, config, 'd', rejected, 1_001)
  t.same([...r.byId.keys()], ['b', 'c', 'd'], 'a new result pushes the expired one out')
  forgetOldResults(r, config, 2_000)
  t.same([...r.byId.keys()], ['c', 'd'], 'a tick alone forgets what expired')
  forgetOldResults(r, config, 10_000)
  t.equal(r.byId.size, 0, 'an idle cluster ends up keeping none')
  t.equal(r.bytes, 0, 'and counts no bytes')
  rememberResult(r, config, 'e', rejected, 10_000)
  t.same([...r.byId.keys()], ['e'])
})
