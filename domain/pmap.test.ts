import t from 'tap'
import { seededRng } from './ledger/testing/prng.ts'
import { PMap } from './pmap.ts'

t.test('behaves like a Map under random set/delete, and old versions never change', async (t) => {
  const rng = seededRng(7)
  let m = PMap.empty<number>()
  const model = new Map<string, number>()
  const snapshots: [PMap<number>, Map<string, number>][] = []
  // small key space forces overwrites and deletes; long keys spread the hash
  const key = () => `k${rng.int(3000)}`
  for (let i = 0; i < 20_000; i++) {
    const k = key()
    if (rng.next() < 0.3) { m = m.delete(k); model.delete(k) } else { m = m.set(k, i); model.set(k, i) }
    if (i % 2000 === 0) snapshots.push([m, new Map(model)])
  }
  t.equal(m.size, model.size, 'size')
  let same = true
  for (const [k, v] of model) if (m.get(k) !== v) same = false
  for (const [k, v] of m.entries()) if (model.get(k) !== v) same = false
  t.ok(same, 'same entries')
  t.equal([...m.keys()].length, model.size, 'iteration visits each key once')
  for (const [snap, copy] of snapshots) {
    t.equal(snap.size, copy.size, 'snapshot size unchanged')
    t.ok([...copy].every(([k, v]) => snap.get(k) === v), 'snapshot entries unchanged')
  }
})

t.test('iteration order depends only on the contents', async (t) => {
  const keys = Array.from({ length: 500 }, (_, i) => `user:${i}`)
  const a = PMap.from(keys.map((k) => [k, 1] as const))
  const b = PMap.from([...keys].reverse().map((k) => [k, 1] as const))
  const c = PMap.from([...keys, 'extra'].map((k) => [k, 1] as const)).delete('extra')
  t.same([...a.keys()], [...b.keys()])
  t.same([...a.keys()], [...c.keys()])
})

t.test('colliding hashes are kept apart', async (t) => {
  // FNV-1a collisions are easy to find by brute force over a small alphabet
  const seen = new Map<number, string>()
  let pair: [string, string] | undefined
  const fnv = (s: string) => { let h = 0x811c9dc5; for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) } return h >>> 0 }
  for (let i = 0; pair === undefined && i < 2_000_000; i++) {
    const s = i.toString(36)
    const h = fnv(s)
    const other = seen.get(h)
    if (other !== undefined) pair = [other, s]
    else seen.set(h, s)
  }
  t.ok(pair, 'found a collision')
  const [x, y] = pair!
  let m = PMap.empty<string>().set(x, 'x').set(y, 'y').set('z', 'z')
  t.equal(m.get(x), 'x')
  t.equal(m.get(y), 'y')
  m = m.delete(x)
  t.equal(m.get(x), undefined)
  t.equal(m.get(y), 'y')
  t.equal(m.size, 2)
})
