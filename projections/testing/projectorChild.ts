// A projector process for the crash and restart tests: the live runner (MySQL + Redis
// mirror) over a deterministic chat workload whose visible head is a number in a file the
// test advances ("the ledger grows"). Prints `ready` once connected, then status lines.
// env: ZIXT_MYSQL_URL, ZIXT_REDIS_PREFIX, HEAD_FILE, EVENTS_MAX, SEED, BATCH_EVENTS
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import { connectMysql } from '../db.ts'
import type { EventSource } from '../eventSource.ts'
import { migrate } from '../migrate.ts'
import { mysqlProjections } from '../mysql/index.ts'
import { ProjectionRunner } from '../runner.ts'
import { chatWorkload } from './eventLog.ts'

const env = (k: string): string => {
  const v = process.env[k]
  if (v === undefined) throw new Error(`projectorChild: ${k} is not set`)
  return v
}

/** The workload's events up to the head the test wrote (re-read at most every 10 ms). */
export function fileHeadSource(events: readonly EventEnvelope[], headFile: string): EventSource {
  const head = (): number => Math.min(events.length, Number(readFileSync(headFile, 'utf8').trim() || '0'))
  return {
    read: (from, limit) => events.slice(from, Math.min(from + limit, head())),
    head,
    wait: async (position, signal) => {
      while (!signal.aborted && position >= head()) await new Promise((r) => setTimeout(r, 10))
    },
  }
}

const url = env('ZIXT_MYSQL_URL')
const prefix = env('ZIXT_REDIS_PREFIX')
const events = chatWorkload(Number(env('EVENTS_MAX')), { users: 30, threads: 12, seed: Number(env('SEED')) })
const redis = new Redis(process.env['ZIXT_REDIS_URL'] ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 })
redis.on('error', () => {})
const conn = await connectMysql(url)
await migrate(conn)
await conn.end()
const runner = new ProjectionRunner({
  source: fileHeadSource(events, env('HEAD_FILE')), connect: () => connectMysql(url), projections: mysqlProjections,
  redis, redisPrefix: prefix, batchEvents: Number(env('BATCH_EVENTS')),
  backoffMs: { min: 100, max: 1000 },
  log: (line) => process.stdout.write(`log ${line}\n`),
})
const stop = new AbortController()
process.once('SIGTERM', () => stop.abort())
const timer = setInterval(() => void runner.status().then((s) => process.stdout.write(`status ${JSON.stringify(s)}\n`)), 200)
process.stdout.write('ready\n')
await runner.run(stop.signal)
clearInterval(timer)
await runner.close()
redis.disconnect()
