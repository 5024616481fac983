// The session's user and device, kept in the web process so an authenticated request does not
// queue for MariaDB twice (issue 8: under ledger load the read pool made these two look-ups
// 150–300 ms of every command's path). Correct by invalidation, not by the TTL: the projector
// publishes each event that changes users/devices rows on `P accounts` after its batch
// committed (projections/redis/notify.ts), and the entries of the users it names are dropped
// when it arrives. The TTL is only a backstop. The cache serves only while that subscription
// is known to be live: a lost connection clears it and every look-up goes to the read model
// until the subscription is back.
//
// A look-up that started before an invalidation arrived may return the row as it was before
// that event; such a result answers its own request (as an uncached read racing the commit
// would) but is never stored.
import type { RmDevice, RmUser } from './readModel.ts'

export const accountCacheEntriesMax = 20_000 // per map; the oldest entry goes first

type Entry<T> = { readonly value: T; readonly at: number }

export class AccountCache {
  readonly ttlMs: number
  readonly #now: () => number
  readonly #users = new Map<string, Entry<RmUser>>()
  readonly #devices = new Map<string, Entry<RmDevice>>()
  readonly #devicesOf = new Map<string, Set<string>>() // userId → its cached device ids (invalidation without a scan)
  #epoch = 0 // bumped by every invalidation: a look-up that saw it change stores nothing
  #live = false // the invalidation subscription is up (set by its owner)
  hits = 0
  misses = 0

  constructor(ttlMs: number, now: () => number = Date.now) {
    this.ttlMs = ttlMs
    this.#now = now
  }

  get live(): boolean {
    return this.#live
  }

  /** The subscription is up (true) or lost (false: everything cached may be stale). */
  setLive(live: boolean): void {
    if (!live) this.clear()
    this.#live = live && this.ttlMs > 0
  }

  user(userId: string, load: (id: string) => Promise<RmUser | null>): Promise<RmUser | null> {
    return this.#get(this.#users, userId, load)
  }

  device(deviceId: string, load: (id: string) => Promise<RmDevice | null>): Promise<RmDevice | null> {
    return this.#get(this.#devices, deviceId, load, this.#deviceIndex)
  }

  readonly #deviceIndex: Index<RmDevice> = {
    add: (id, d) => {
      const set = this.#devicesOf.get(d.userId)
      if (set === undefined) this.#devicesOf.set(d.userId, new Set([id]))
      else set.add(id)
    },
    remove: (id, d) => {
      const set = this.#devicesOf.get(d.userId)
      set?.delete(id)
      if (set?.size === 0) this.#devicesOf.delete(d.userId)
    },
  }

  /** An accounts notification: the users' rows (and their devices') changed; none named = all. */
  invalidate(userIds: readonly string[]): void {
    this.#epoch++
    if (userIds.length === 0) return this.clear()
    for (const u of userIds) {
      this.#users.delete(u)
      for (const d of this.#devicesOf.get(u) ?? []) this.#devices.delete(d)
      this.#devicesOf.delete(u)
    }
  }

  clear(): void {
    this.#epoch++
    this.#users.clear()
    this.#devices.clear()
    this.#devicesOf.clear()
  }

  /** Cached entries, for tests: users, devices, and users with cached devices. */
  get sizes(): { users: number; devices: number; indexedUsers: number } {
    return { users: this.#users.size, devices: this.#devices.size, indexedUsers: this.#devicesOf.size }
  }

  async #get<T>(map: Map<string, Entry<T>>, id: string, load: (id: string) => Promise<T | null>, index?: Index<T>): Promise<T | null> {
    if (!this.#live) return load(id)
    const hit = map.get(id)
    if (hit !== undefined && this.#now() - hit.at < this.ttlMs) {
      this.hits++
      return hit.value
    }
    this.misses++
    const epoch = this.#epoch
    const at = this.#now()
    const value = await load(id)
    // absent rows are not kept: the row that appears later is then read at once
    if (value === null || epoch !== this.#epoch || !this.#live) return value
    const old = map.get(id)
    if (old !== undefined) index?.remove(id, old.value)
    map.delete(id) // re-inserted at the end: the Map's order is the eviction order
    map.set(id, { value, at })
    index?.add(id, value)
    if (map.size > accountCacheEntriesMax) {
      const [oldestId, oldest] = map.entries().next().value!
      map.delete(oldestId)
      index?.remove(oldestId, oldest.value)
    }
    return value
  }
}

type Index<T> = { add(id: string, value: T): void; remove(id: string, value: T): void }
