// Fixed-window counters in Redis: INCR + EXPIRE in one MULTI. Shared by ingest (commands)
// and the web (login, registration, uploads).
import type { Redis } from 'ioredis'

export type RateRule = { readonly limit: number; readonly windowS: number }
export type RateOutcome = { readonly ok: true } | { readonly ok: false; readonly retryAfterS: number }

export async function hitRate(redis: Redis, key: string, rule: RateRule): Promise<RateOutcome> {
  return hitRates(redis, [[key, rule]])
}

/** Counts one hit on every key in one MULTI (one round trip); the first key over its limit decides. */
export async function hitRates(redis: Redis, checks: readonly (readonly [string, RateRule])[]): Promise<RateOutcome> {
  const m = redis.multi()
  queueRates(m, checks)
  return rateOutcome((await m.exec()) ?? [], checks)
}

type Multi = ReturnType<Redis['multi']>

/** Queues the hits of `checks` on a MULTI another step shares (3 replies per check, from its start). */
export function queueRates(m: Multi, checks: readonly (readonly [string, RateRule])[]): void {
  for (const [key, rule] of checks) m.incr(key).expire(key, rule.windowS, 'NX').ttl(key)
}

/** The outcome from the MULTI's replies, the checks' replies first. */
export function rateOutcome(r: readonly [Error | null, unknown][], checks: readonly (readonly [string, RateRule])[]): RateOutcome {
  for (let i = 0; i < checks.length; i++) {
    const rule = checks[i]![1]
    const count = Number(r[3 * i]?.[1] ?? 0)
    if (count <= rule.limit) continue
    const ttl = Number(r[3 * i + 2]?.[1] ?? rule.windowS)
    return { ok: false, retryAfterS: Math.max(1, ttl) }
  }
  return { ok: true }
}
