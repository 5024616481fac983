// Fixed-window counters in Redis: INCR + EXPIRE in one MULTI. Shared by ingest (commands)
// and the web (login, registration, uploads).
import type { Redis } from 'ioredis'

export type RateRule = { readonly limit: number; readonly windowS: number }
export type RateOutcome = { readonly ok: true } | { readonly ok: false; readonly retryAfterS: number }

export async function hitRate(redis: Redis, key: string, rule: RateRule): Promise<RateOutcome> {
  const r = await redis.multi().incr(key).expire(key, rule.windowS, 'NX').ttl(key).exec()
  const count = Number(r?.[0]?.[1] ?? 0)
  if (count <= rule.limit) return { ok: true }
  const ttl = Number(r?.[2]?.[1] ?? rule.windowS)
  return { ok: false, retryAfterS: Math.max(1, ttl) }
}
