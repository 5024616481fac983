// data/system.json: how operator commands (`zixt admin create`, `zixt rotate-keys`,
// `zixt projections`) find the system `npm start` runs on the same data folder — its
// pid, web URLs, MySQL database, Redis prefix and replica addresses. Written once the
// system is up, removed on a clean stop; never holds a secret (a password in a URL is
// cut out and must come from the environment, as it did for start).
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { PeerAddress } from '../consensus/net/peers.ts'

export type SystemFile = {
  readonly pid: number
  readonly startedAt: number
  readonly dataDir: string
  readonly urls: readonly string[]
  readonly mysqlUrl: string // without password
  readonly redisUrl: string // without password
  readonly passwordsFromEnv: boolean // a URL had one: take it from ZIXT_MYSQL_URL / ZIXT_REDIS_URL
  readonly redisPrefix: string
  readonly replicas: readonly PeerAddress[]
}

export const systemFilePath = (dataDir: string): string => join(resolve(dataDir), 'system.json')

function withoutPassword(url: string): { url: string; had: boolean } {
  const u = new URL(url)
  const had = u.password !== ''
  u.password = ''
  return { url: u.toString(), had }
}

export function writeSystemFile(v: Omit<SystemFile, 'passwordsFromEnv'>): void {
  const mysql = withoutPassword(v.mysqlUrl)
  const redis = withoutPassword(v.redisUrl)
  const file = systemFilePath(v.dataDir)
  const body: SystemFile = { ...v, mysqlUrl: mysql.url, redisUrl: redis.url, passwordsFromEnv: mysql.had || redis.had }
  writeFileSync(`${file}.tmp`, JSON.stringify(body, null, 2) + '\n')
  renameSync(`${file}.tmp`, file) // readers never see half a file
}

/** Removes the file if this process wrote it (a second start must not delete the first's). */
export function removeSystemFile(dataDir: string, pid = process.pid): void {
  const s = readSystemFile(dataDir)
  if (s?.pid === pid) rmSync(systemFilePath(dataDir), { force: true })
}

export function readSystemFile(dataDir: string): SystemFile | null {
  const file = systemFilePath(dataDir)
  if (!existsSync(file)) return null
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SystemFile
  } catch {
    return null // being replaced, or damaged: treat as absent
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The running system on this data folder, or null (no file, or its process is gone: a crash left it). */
export function runningSystem(dataDir: string): SystemFile | null {
  const s = readSystemFile(dataDir)
  return s !== null && Number.isSafeInteger(s.pid) && alive(s.pid) ? s : null
}

/** A URL of the running system, with its password from `envName` when it had one. */
function withEnvPassword(url: string, passwordsFromEnv: boolean, envName: string): string {
  const env = process.env[envName]
  if (!passwordsFromEnv || env === undefined) return url
  const u = new URL(url)
  u.password = new URL(env).password
  return u.toString()
}

export const systemMysqlUrl = (s: SystemFile): string => withEnvPassword(s.mysqlUrl, s.passwordsFromEnv, 'ZIXT_MYSQL_URL')
export const systemRedisUrl = (s: SystemFile): string => withEnvPassword(s.redisUrl, s.passwordsFromEnv, 'ZIXT_REDIS_URL')
