// npx zixt projections run|status|rebuild [NAME] — see docs/projections.md.
import { Redis } from 'ioredis'
import { defaultRedisPrefix, defaultRedisUrl, connectMysql, mysqlUrl } from '../projections/db.ts'
import { migrate } from '../projections/migrate.ts'
import { mysqlProjections } from '../projections/mysql/index.ts'
import { rebuild, type RebuildProgress } from '../projections/rebuild.ts'
import { rebuildUnread } from '../projections/redis/unread.ts'
import { ProjectionRunner } from '../projections/runner.ts'
import { ledgerEventSource, ledgerPaths, openLedgerReader } from './ledgerSource.ts'

const USAGE = `usage: zixt projections run|status|rebuild [NAME] [--data DIR] [--replica I] [--mysql URL] [--redis URL] [--redis-prefix P]
  NAME: ${mysqlProjections.map((p) => p.name).join(', ')}, unread (default: all)
  env: ZIXT_DATA, ZIXT_MYSQL_URL, ZIXT_REDIS_URL, ZIXT_REDIS_PREFIX`

type Flags = { positional: string[]; flags: Map<string, string> }

function parse(args: readonly string[]): Flags {
  const positional: string[] = []
  const flags = new Map<string, string>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a.startsWith('--')) flags.set(a.slice(2), args[++i] ?? '')
    else positional.push(a)
  }
  return { positional, flags }
}

export function progressBar(p: RebuildProgress): string {
  const done = p.head === 0 ? 1 : (p.position + 1) / p.head
  const width = 30
  const filled = Math.round(done * width)
  const eta = Number.isFinite(p.etaSeconds) ? `${Math.ceil(p.etaSeconds)} s` : '?'
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(done * 100).toFixed(1)}% ${p.position + 1}/${p.head} events, ${Math.round(p.eventsPerSecond)} events/s, ETA ${eta} `
}

export async function main(args: string[]): Promise<number> {
  const { positional, flags } = parse(args)
  const [cmd, name] = positional
  if (cmd === undefined || !['run', 'status', 'rebuild'].includes(cmd)) {
    process.stderr.write(USAGE + '\n')
    return cmd === undefined ? 0 : 2
  }
  const url = mysqlUrl(flags.get('mysql'))
  const prefix = flags.get('redis-prefix') ?? process.env['ZIXT_REDIS_PREFIX'] ?? defaultRedisPrefix
  const redis = new Redis(flags.get('redis') ?? process.env['ZIXT_REDIS_URL'] ?? defaultRedisUrl, { maxRetriesPerRequest: 2, lazyConnect: true })
  redis.on('error', () => {}) // reported through the runner's lastError
  const conn = await connectMysql(url)
  try {
    await migrate(conn)
  } finally {
    await conn.end()
  }
  const paths = ledgerPaths(flags.get('data') ?? process.env['ZIXT_DATA'] ?? './data', { replica: flags.has('replica') ? Number(flags.get('replica')) : undefined })
  const store = openLedgerReader(paths.ledgerDir) // read-only: works beside the running replica that owns the ledger
  const source = ledgerEventSource(store)
  const connect = () => connectMysql(url)
  try {
    if (cmd === 'rebuild') {
      if (name === 'unread') {
        const c = await connect()
        const r = await rebuildUnread(c, redis, prefix).finally(() => c.end())
        process.stderr.write(`unread counters: generation ${r.gen}, ${r.rows} counters at position ${r.position}\n`)
        return 0
      }
      const projections = name === undefined ? mysqlProjections : mysqlProjections.filter((p) => p.name === name)
      if (projections.length === 0) {
        process.stderr.write(`unknown projection '${name}'\n${USAGE}\n`)
        return 2
      }
      const r = await rebuild({ source, connect, projections, redis, redisPrefix: prefix, onProgress: (p) => process.stderr.write(progressBar(p)) })
      process.stderr.write(`\nrebuilt ${projections.map((p) => p.name).join(', ')}: ${r.events} events in ${r.seconds.toFixed(1)} s (${Math.round(r.events / Math.max(r.seconds, 1e-3))} events/s), swapped\n`)
      return 0
    }
    const runner = new ProjectionRunner({ source, connect, projections: mysqlProjections, redis, redisPrefix: prefix, log: (l) => process.stderr.write(l + '\n') })
    if (cmd === 'status') {
      const stop = new AbortController()
      const c = await connect()
      const [rows] = await c.query('SELECT (SELECT position FROM checkpoint_accounts) a, (SELECT position FROM checkpoint_conversations) c, (SELECT position FROM checkpoint_key_packages) k')
      await c.end()
      const cp = (rows as Record<string, number>[])[0]!
      const position = Math.min(cp['a']!, cp['c']!, cp['k']!)
      stop.abort()
      process.stdout.write(JSON.stringify({ position, head: store.eventCount, lag: Math.max(0, store.eventCount - 1 - position), checkpoints: cp }) + '\n')
      return 0
    }
    const stop = new AbortController()
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => stop.abort())
    const timer = setInterval(() => void runner.status().then((s) => process.stderr.write(`projections: ${JSON.stringify(s)}\n`)), 10_000)
    await runner.run(stop.signal)
    clearInterval(timer)
    await runner.close()
    return 0
  } finally {
    store.close()
    redis.disconnect()
  }
}
