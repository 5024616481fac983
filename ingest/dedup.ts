// De-duplication by command id before consensus: Redis SET NX with a TTL longer than the
// clock-skew window (a replayed command older than that is refused by CLOCK_SKEW anyway;
// the replicas keep their own replay window, docs/domain.md).
import type { Redis } from 'ioredis'
import { limits } from '../domain/limits.ts'

export const dedupTtlS = Math.ceil((2 * limits.commandSkewMs) / 1000)

/** Claims `id` on a MULTI another step shares (ingest: with the rate counters); its reply is 'OK' when the id was not seen, null for a duplicate. */
export function queueClaim(m: ReturnType<Redis['multi']>, prefix: string, id: string): void {
  m.set(`${prefix}cmd:${id}`, '1', 'EX', dedupTtlS, 'NX')
}

/** Forget an id whose submission did not reach a decision (retry must stay possible). */
export async function releaseCommandId(redis: Redis, prefix: string, id: string): Promise<void> {
  await redis.del(`${prefix}cmd:${id}`)
}
