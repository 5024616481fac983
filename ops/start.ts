// `npm start` / `npx zixt start`: the whole system on this machine — services, a 4-replica
// cluster, ingest, the projection runner and the web server. All wiring lives in
// startSystem() so tests and benchmarks bring up exactly what users run.
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Redis } from 'ioredis'
import cron from 'node-cron'
import { startCluster, type RunningCluster } from '../consensus/cluster.ts'
import type { ReplicaConfig } from '../consensus/config.ts'
import type { LedgerReader } from '../consensus/store/ledgerReader.ts'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { inProcessBus } from '../ingest/bus/inProcess.ts'
import { relayBus } from '../ingest/bus/relay.ts'
import type { CommandBus } from '../ingest/bus/types.ts'
import { createIngest, type Ingest } from '../ingest/submit.ts'
import { connectMysql, mysqlPool } from '../projections/db.ts'
import { migrate } from '../projections/migrate.ts'
import { mysqlProjections } from '../projections/mysql/index.ts'
import { ProjectionRunner } from '../projections/runner.ts'
import { buildApp } from '../web/server/app.ts'
import type { WebConfig } from '../web/server/context.ts'
import { logMailer, smtpMailer, type Mailer } from '../web/server/mailer.ts'
import { ReadModel } from '../web/server/readModel.ts'
import { migrateWeb } from '../web/server/store.ts'
import { ledgerEventSource, ledgerPaths, openLedgerReader } from './ledgerSource.ts'
import { eventTimeFrom } from './operator.ts'
import { rotateKeys, type RotationReport } from './rotateKeys.ts'
import { buildIfMissing, defaultOutDir } from '../web/client/build.ts'
import { ensureServices } from './services.ts'
import { removeSystemFile, runningSystem, writeSystemFile } from './systemFile.ts'

export type SystemOptions = {
  readonly dataDir: string
  readonly mysqlUrl: string
  readonly redisUrl?: string
  readonly redisPrefix: string
  readonly host?: string
  readonly port?: number // 0 = any free port
  readonly webProcesses?: number // web servers in this process (tests: 2 to check cross-node delivery)
  readonly config?: Partial<WebConfig>
  readonly mailer?: Mailer
  readonly tls?: { readonly cert: string; readonly key: string }
  readonly log?: (line: string) => void
  readonly services?: boolean
  readonly rates?: Parameters<typeof createIngest>[0]['rates']
  /** 'relay': the benchmark baseline (ingest/bus/relay.ts), messages skip consensus and projections. */
  readonly bus?: 'ledger' | 'relay'
  /** Replica tuning over systemReplicaTuning and the consensus defaults (consensus/config.ts). */
  readonly replica?: Partial<ReplicaConfig>
}

export type RunningSystem = {
  readonly urls: readonly string[]
  readonly apps: readonly Awaited<ReturnType<typeof buildApp>>[]
  readonly cluster: RunningCluster
  readonly ingest: Ingest
  readonly bus: CommandBus
  readonly read: ReadModel
  readonly redis: Redis
  readonly serviceKey: { keyId: string; secretKey: Uint8Array; publicKey: Uint8Array }
  /** Read-only follower of replica 0's ledger (what the projections read). */
  readonly ledger: LedgerReader
  /** The key rotation job once, as of `now` (the cron calls it with the clock). */
  rotateKeys(now: number, log?: (line: string) => void): Promise<RotationReport>
  stop(): Promise<void>
}

/**
 * Replica tuning of the whole system over the consensus defaults. The primary holds a
 * proposal until 30 ms after its previous one (unless the batch is full; a command after a
 * quiet spell goes at once): here the replicas share two cores with the web, the projections,
 * MariaDB and Redis, and small blocks made them the largest CPU user. e2e at 100 msg/s, two
 * alternating pairs (docs/benchmarks.md, 2026-12-05): replica CPU 0.23–0.33 core each against
 * 0.26–0.36, p50 / p99 lower in 5 of 6 phases each; consensus alone at 100–200/s, CPU per
 * command −34–38 %, p50 at 100/s +7 ms. `replica` in the options overrides it.
 */
export const systemReplicaTuning: Partial<ReplicaConfig> = { proposeIntervalMs: 30 }

export async function startSystem(o: SystemOptions): Promise<RunningSystem> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  if (o.services !== false) await ensureServices(log)
  const dataDir = resolve(o.dataDir)
  const other = runningSystem(dataDir)
  if (other !== null) throw new Error(`a system already runs on ${dataDir} (pid ${other.pid}, ${other.urls[0] ?? ''}); stop it first`)
  const cluster = await startCluster({ dataDir, replica: { ...systemReplicaTuning, ...o.replica }, onLog: (i, l) => { if (/error|fatal/i.test(l)) log(`replica ${i}: ${l}`) } })
  const conn = await connectMysql(o.mysqlUrl)
  await migrate(conn)
  await conn.end()
  const db = mysqlPool(o.mysqlUrl, 10)
  await migrateWeb(db)
  const redisUrl = o.redisUrl ?? 'redis://127.0.0.1:6379'
  const redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 })
  const ledger = openLedgerReader(ledgerPaths(dataDir).ledgerDir) // replica 0 owns it: follow it read-only
  const source = ledgerEventSource(ledger)
  const runner = new ProjectionRunner({ source, connect: () => connectMysql(o.mysqlUrl), projections: mysqlProjections, redis, redisPrefix: o.redisPrefix, log })
  const abort = new AbortController()
  const running = runner.run(abort.signal)
  const read = new ReadModel(db, redis, o.redisPrefix)
  const client = cluster.client()
  const serviceKey = cluster.serviceKey
  const servicePublic = new Map(cluster.genesis.servicePublicKeys.map((k) => [k.keyId, k.publicKey]))
  const bus = o.bus === 'relay' ? relayBus({ inner: inProcessBus(client), redis, prefix: o.redisPrefix }) : inProcessBus(client)
  const ingest = createIngest({
    bus, redis, prefix: o.redisPrefix, crypto, now: () => Date.now(), rates: o.rates,
    keys: {
      device: async (id) => read.device(id),
      user: async (id) => read.userById(id),
      serviceKey: (keyId) => servicePublic.get(keyId) ?? null,
    },
  })
  const smtp = process.env['ZIXT_SMTP_URL']
  const mailer = o.mailer ?? (smtp ? smtpMailer(smtp, process.env['ZIXT_MAIL_FROM'] ?? 'zixt@localhost') : logMailer(log))
  const host = o.host ?? '127.0.0.1'
  const scheme = o.tls ? 'https' : 'http'
  const apps: Awaited<ReturnType<typeof buildApp>>[] = []
  const urls: string[] = []
  const https = o.tls ? { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) } : undefined
  for (let i = 0; i < (o.webProcesses ?? 1); i++) {
    const port = o.port === undefined ? 8080 + i : o.port === 0 ? 0 : o.port + i
    const placeholder = `${scheme}://${host}:${port}`
    const staticDir = defaultOutDir // the esbuild bundle (web/client/build.ts)
    const cfg: Partial<WebConfig> = { origin: placeholder, publicUrl: placeholder, tls: o.tls !== undefined, staticDir: existsSync(staticDir) ? staticDir : null, ...o.config }
    const app = await buildApp({ crypto, redis, prefix: o.redisPrefix, db, read, ingest, service: serviceKey, mailer, blobsDir: join(dataDir, 'blobs'), config: cfg, log }, { https })
    // a long accept queue: a burst of new connections (every request of a client whose
    // keep-alive sockets all wait for a commit opens one) must not overflow Node's default 511,
    // or the dropped SYNs come back only after the client's 1 s, 3 s, … retransmission timeouts
    await app.listen({ host, port, backlog: 4096 })
    const actual = (app.server.address() as { port: number }).port
    const url = `${scheme}://${host}:${actual}`
    if (port === 0) {
      // the origin is only known after listen: patch the config the routes read
      const c = (app as unknown as { hub: { ctx: { config: WebConfig } } }).hub.ctx.config as { origin: string; publicUrl: string }
      c.origin = o.config?.origin ?? url
      c.publicUrl = o.config?.publicUrl ?? url
    }
    apps.push(app)
    urls.push(url)
  }
  writeSystemFile({ pid: process.pid, startedAt: Date.now(), dataDir, urls, mysqlUrl: o.mysqlUrl, redisUrl, redisPrefix: o.redisPrefix, replicas: cluster.addresses })
  const eventTime = eventTimeFrom(ledger)
  return {
    urls, apps, cluster, ingest, bus, read, redis, serviceKey, ledger,
    rotateKeys: (now, log2 = log) => rotateKeys({ read, serviceKey, now, log: log2, eventTime, submit: (signed) => ingest.submit(signed) }),
    async stop() {
      removeSystemFile(dataDir)
      for (const a of apps) await a.close()
      abort.abort()
      await running.catch(() => {})
      await runner.close()
      ledger.close()
      client.close()
      mailer.close()
      await cluster.stop()
      await db.end()
      redis.disconnect()
    },
  }
}

export async function main(args: string[]): Promise<number> {
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? args[i + 1] : undefined
  }
  const dataDir = flag('data') ?? process.env['ZIXT_DATA'] ?? './data'
  const port = Number(flag('port') ?? process.env['ZIXT_PORT'] ?? 8080)
  const host = flag('host') ?? process.env['ZIXT_HOST'] ?? '127.0.0.1'
  const cert = process.env['ZIXT_TLS_CERT']
  const key = process.env['ZIXT_TLS_KEY']
  try {
    await buildIfMissing()
  } catch (e) {
    process.stderr.write(`start: browser bundle not built: ${(e as Error).message}\n`)
  }
  const sys = await startSystem({
    dataDir, host, port,
    mysqlUrl: process.env['ZIXT_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/zixt',
    redisUrl: process.env['ZIXT_REDIS_URL'], redisPrefix: process.env['ZIXT_REDIS_PREFIX'] ?? 'zixt:',
    tls: cert && key ? { cert, key } : undefined,
    config: process.env['ZIXT_PUBLIC_URL'] ? { origin: process.env['ZIXT_PUBLIC_URL'], publicUrl: process.env['ZIXT_PUBLIC_URL'] } : undefined,
  })
  const schedule = process.env['ZIXT_ROTATION_CRON'] ?? '17 3 * * *'
  const job = cron.schedule(schedule, () => {
    void sys.rotateKeys(Date.now(), (l) => process.stdout.write(`${l}\n`)).catch((e) => process.stderr.write(`rotate-keys: ${(e as Error).message}\n`))
  })
  process.stdout.write(`Zixt is running: ${sys.urls[0]}\n(data in ${resolve(dataDir)}; key rotation cron '${schedule}'; Ctrl-C stops)\n`)
  await new Promise<void>((res) => {
    // handlers stay installed: a second signal while stopping must not kill the process half way
    process.on('SIGINT', res)
    process.on('SIGTERM', res)
  })
  process.stdout.write('stopping…\n')
  await job.stop()
  await sys.stop()
  return 0
}

