// What the operator commands (`zixt admin create`, `zixt rotate-keys`) use to act on the
// system `npm start` runs on a data folder: the consensus client with the service key,
// that system's read model (MySQL/Redis from data/system.json) and a read-only follower of
// replica 0's ledger. They never start a second copy of a running system.
import { Redis } from 'ioredis'
import type { Pool } from 'mysql2/promise'
import { clusterClient, initCluster, startCluster, type RunningCluster } from '../consensus/cluster.ts'
import type { ConsensusClient } from '../consensus/client.ts'
import type { LedgerReader } from '../consensus/store/ledgerReader.ts'
import { connectMysql, defaultRedisPrefix, defaultRedisUrl, mysqlPool, mysqlUrl } from '../projections/db.ts'
import { migrate } from '../projections/migrate.ts'
import { mysqlProjections } from '../projections/mysql/index.ts'
import { ProjectionRunner } from '../projections/runner.ts'
import { ReadModel } from '../web/server/readModel.ts'
import { ledgerEventSource, ledgerPaths, openLedgerReader } from './ledgerSource.ts'
import { systemMysqlUrl, systemRedisUrl, type SystemFile } from './systemFile.ts'

export type OperatorContext = {
  readonly client: ConsensusClient
  readonly read: ReadModel
  readonly db: Pool
  readonly ledger: LedgerReader
  /** Block time of the event at `position`, or null when this follower has not read it yet. */
  eventTime(position: number): number | null
  close(): Promise<void>
}

/** Block time of an event, read from a follower of the ledger. */
export function eventTimeFrom(ledger: LedgerReader): (position: number) => number | null {
  return (position) => {
    if (position >= ledger.eventCount) ledger.refresh()
    return position < ledger.eventCount ? ledger.readEvents(position, 1)[0]!.time : null
  }
}

async function context(dataDir: string, db: { mysqlUrl: string; redisUrl: string; redisPrefix: string }, stop: () => Promise<void>): Promise<OperatorContext> {
  const genesis = await initCluster(dataDir) // exists: reads it
  const client = clusterClient(dataDir, genesis)
  const pool = mysqlPool(db.mysqlUrl, 2)
  const redis = new Redis(db.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 })
  redis.on('error', () => {})
  const ledger = openLedgerReader(ledgerPaths(dataDir).ledgerDir)
  return {
    client, db: pool, ledger, read: new ReadModel(pool, redis, db.redisPrefix), eventTime: eventTimeFrom(ledger),
    async close() {
      client.close()
      ledger.close()
      await pool.end()
      redis.disconnect()
      await stop()
    },
  }
}

/** Acts on the running system described by its system.json. */
export function operatorContext(dataDir: string, sys: SystemFile): Promise<OperatorContext> {
  return context(dataDir, { mysqlUrl: systemMysqlUrl(sys), redisUrl: systemRedisUrl(sys), redisPrefix: sys.redisPrefix }, async () => {})
}

/**
 * No system runs on dataDir: start the 4 replicas and bring the read model up to the
 * ledger's head (MySQL/Redis from ZIXT_MYSQL_URL / ZIXT_REDIS_URL / ZIXT_REDIS_PREFIX), so a
 * one-off job sees current data; close() stops the replicas again.
 */
export async function standaloneContext(dataDir: string, log: (l: string) => void): Promise<OperatorContext> {
  const url = mysqlUrl()
  const redisUrl = process.env['ZIXT_REDIS_URL'] ?? defaultRedisUrl
  const redisPrefix = process.env['ZIXT_REDIS_PREFIX'] ?? defaultRedisPrefix
  log(`no running system on ${dataDir}: starting its 4 replicas and catching up the projections for this run`)
  const cluster: RunningCluster = await startCluster({ dataDir, onLog: (i, l) => { if (/error|fatal/i.test(l)) log(`replica ${i}: ${l}`) } })
  try {
    await catchUpProjections(dataDir, url, redisUrl, redisPrefix)
  } catch (e) {
    await cluster.stop()
    throw e
  }
  return context(dataDir, { mysqlUrl: url, redisUrl, redisPrefix }, () => cluster.stop())
}

async function catchUpProjections(dataDir: string, url: string, redisUrl: string, redisPrefix: string): Promise<void> {
  const conn = await connectMysql(url)
  await migrate(conn).finally(() => conn.end())
  const ledger = openLedgerReader(ledgerPaths(dataDir).ledgerDir)
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 })
  const runner = new ProjectionRunner({ source: ledgerEventSource(ledger), connect: () => connectMysql(url), projections: mysqlProjections, redis, redisPrefix })
  try {
    await runner.run(AbortSignal.timeout(10 * 60_000), ledger.eventCount - 1)
  } finally {
    await runner.close()
    ledger.close()
    redis.disconnect()
  }
}
