// Test helpers for operator commands run as their own processes against a running system.
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { dropDatabase } from '../../projections/db.ts'
import type { RunningSystem } from '../start.ts'

const CLI = new URL('../cli.ts', import.meta.url).pathname

/**
 * Runs `zixt <args>` as its own process, without the MySQL/Redis settings: it must find them
 * in system.json. Unless `shifted`, without the test clock (ops/testing/clockOffset.ts) either.
 */
export function cli(args: string[], shifted = false): Promise<{ code: number | null; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of ['ZIXT_MYSQL_URL', 'ZIXT_REDIS_URL', 'ZIXT_REDIS_PREFIX', 'ZIXT_DATA']) delete env[k]
  if (!shifted) delete env['ZIXT_TEST_CLOCK_FILE']
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }) })
  })
}

/** Polls `f` until it gives a value (not null/false; a throw counts as not yet), at most `ms`. */
export async function until<T>(what: string, f: () => Promise<T | null | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f().catch(() => null)
    if (v !== null && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A test's teardown of the system it started: stop it, drop its database, its Redis keys and its data folder. */
export async function removeTestSystem(sys: RunningSystem, o: { readonly mysqlUrl: string; readonly redisPrefix: string; readonly dataDir: string }): Promise<void> {
  await sys.stop().catch(() => {})
  await dropDatabase(o.mysqlUrl).catch(() => {})
  const redis = new Redis('redis://127.0.0.1:6379')
  const keys = await redis.keys(`${o.redisPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
  rmSync(o.dataDir, { recursive: true, force: true })
}
