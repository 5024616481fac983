import t from 'tap'
import { KeyCache } from './keyCache.ts'
import { clearNobleKeyCache, nobleCrypto } from './noble.ts'
import { clearNativeKeyCache, nativeCrypto } from './native.ts'

t.test('bounded LRU that wipes what it evicts', async (t) => {
  const disposed: Uint8Array[] = []
  const cache = new KeyCache<Uint8Array>(2, (v) => { v.fill(0); disposed.push(v) })
  let made = 0
  const make = (n: number) => () => { made++; return new Uint8Array([n, n]) }
  const a = cache.getOrCreate('a', make(1))
  cache.getOrCreate('b', make(2))
  t.equal(cache.getOrCreate('a', make(9)), a, 'hit returns the cached value without making one')
  t.equal(made, 2)
  cache.getOrCreate('c', make(3)) // evicts b, the least recently used
  t.equal(cache.size, 2)
  t.same(disposed, [new Uint8Array([0, 0])], 'the evicted value was wiped')
  cache.getOrCreate('b', make(2))
  t.equal(made, 4, 'b was really gone')
  cache.clear()
  t.equal(cache.size, 0)
  t.ok(a.every((x) => x === 0), 'clear wipes too')
  t.throws(() => new KeyCache(0))
})

t.test('a failed import is not cached', async (t) => {
  const cache = new KeyCache<number>(4)
  t.throws(() => cache.getOrCreate('x', () => { throw new Error('bad key') }))
  t.equal(cache.size, 0)
})

t.test('signing keeps working across cache clears and many keys (eviction)', async (t) => {
  const message = new Uint8Array([1, 2, 3])
  for (const crypto of [nativeCrypto, nobleCrypto]) {
    const keys = Array.from({ length: crypto.backend === 'native' ? 70 : 40 }, () => crypto.mlDsa65.keygen()) // past each cache's capacity
    for (const k of keys) t.ok(crypto.mlDsa65.verify(k.publicKey, message, crypto.mlDsa65.sign(k.secretKey, message)), `${crypto.backend}`)
    clearNobleKeyCache()
    clearNativeKeyCache()
    const k = keys[0]!
    t.ok(crypto.mlDsa65.verify(k.publicKey, message, crypto.mlDsa65.sign(k.secretKey, message)), `${crypto.backend} after clear`)
  }
})
