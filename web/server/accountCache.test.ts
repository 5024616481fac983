import t from 'tap'
import { AccountCache, accountCacheEntriesMax } from './accountCache.ts'
import type { RmDevice, RmUser } from './readModel.ts'

const user = (userId: string, disabled = false) => ({ userId, disabled }) as unknown as RmUser
const device = (deviceId: string, userId: string, revoked = false) => ({ deviceId, userId, revoked }) as unknown as RmDevice

t.test('serves from memory only while live, within the TTL', async (t) => {
  let clock = 1000
  const c = new AccountCache(500, () => clock)
  let reads = 0
  const load = async (id: string) => { reads++; return user(id) }
  await c.user('u1', load)
  await c.user('u1', load)
  t.equal(reads, 2, 'not live yet: every look-up reads')
  c.setLive(true)
  await c.user('u1', load)
  await c.user('u1', load)
  t.equal(reads, 3, 'live: the second look-up is a hit')
  clock += 500
  await c.user('u1', load)
  t.equal(reads, 4, 'after the TTL it reads again')
  c.setLive(false)
  c.setLive(true)
  await c.user('u1', load)
  t.equal(reads, 5, 'a lost subscription dropped everything')
})

t.test("an invalidation drops the user and the user's devices, nothing else", async (t) => {
  const c = new AccountCache(60_000)
  c.setLive(true)
  const rows = new Map<string, RmDevice>([['d1', device('d1', 'u1')], ['d2', device('d2', 'u2')]])
  let reads = 0
  const load = async (id: string) => { reads++; return rows.get(id) ?? null }
  await c.device('d1', load)
  await c.device('d2', load)
  rows.set('d1', device('d1', 'u1', true))
  t.equal((await c.device('d1', load))?.revoked, false, 'cached (no notice yet)')
  c.invalidate(['u1'])
  t.equal((await c.device('d1', load))?.revoked, true, 'after the notice: the new row')
  const before = reads
  await c.device('d2', load)
  t.equal(reads, before, "another user's device stays cached")
  c.invalidate([])
  await c.device('d2', load)
  t.equal(reads, before + 1, 'a notice naming no user drops everything')
})

t.test('a look-up that raced an invalidation answers but is not stored', async (t) => {
  const c = new AccountCache(60_000)
  c.setLive(true)
  let row = user('u1')
  let release = (): void => {}
  const slow = (id: string) => new Promise<RmUser>((resolve) => { const r = row; release = () => resolve(r); void id })
  const pending = c.user('u1', slow)
  row = user('u1', true) // the projector commits the change, then its notice arrives …
  c.invalidate(['u1'])
  release() // … while the old row was still on its way
  t.equal((await pending)?.disabled, false, 'the racing look-up returns what it read')
  t.equal((await c.user('u1', async () => row))?.disabled, true, 'but the next look-up reads again')
})

t.test('absent rows are not cached', async (t) => {
  const c = new AccountCache(60_000)
  c.setLive(true)
  let reads = 0
  await c.user('nobody', async () => { reads++; return null })
  await c.user('nobody', async () => { reads++; return null })
  t.equal(reads, 2)
})

t.test('the user → devices index follows stores, evictions and invalidations', async (t) => {
  const c = new AccountCache(60_000)
  c.setLive(true)
  const load = async (id: string) => device(id, `u${Number(id.slice(1)) % 7}`)
  for (let i = 0; i < accountCacheEntriesMax + 5; i++) await c.device(`d${i}`, load)
  t.same(c.sizes, { users: 0, devices: accountCacheEntriesMax, indexedUsers: 7 }, 'the oldest devices were evicted')
  c.invalidate(['u3'])
  const left = c.sizes.devices
  t.ok(left < accountCacheEntriesMax && left > accountCacheEntriesMax * 0.8, `u3's devices dropped (${accountCacheEntriesMax - left})`)
  let reads = 0
  const counted = async (id: string) => { reads++; return load(id) }
  await c.device('d10', counted) // u3's, cached until the invalidation: read again
  t.equal(reads, 1)
  await c.device('d9', counted) // u2's: still cached
  t.equal(reads, 1)
  c.invalidate(['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'])
  t.same(c.sizes, { users: 0, devices: 0, indexedUsers: 0 }, 'nothing left, in the map or the index')
})
