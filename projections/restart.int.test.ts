// MariaDB killed and restarted during projection (a private mariadbd on its own datadir and
// port, never the shared server): the runner reports lag and lastError in status() while it
// waits with backoff, resumes from its checkpoint once the server is back, and the final
// tables equal a fresh rebuild.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { connectMysql } from './db.ts'
import { ArrayEventSource } from './eventSource.ts'
import { migrate } from './migrate.ts'
import { mysqlProjections } from './mysql/index.ts'
import { ProjectionRunner, type RunnerStatus } from './runner.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { project } from './testing/given.ts'
import { createTestDb, tableDigest } from './testing/testDb.ts'

const dir = mkdtempSync(join(tmpdir(), 'zixt-mariadb-'))
const datadir = join(dir, 'db')
execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--user=root', '--skip-test-db'], { stdio: 'ignore' })
const port = await new Promise<number>((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const p = (srv.address() as { port: number }).port
    srv.close(() => resolve(p))
  })
})
const url = `mysql://root@127.0.0.1:${port}/zixt_restart`
let server: ChildProcess | null = null

async function startServer(): Promise<void> {
  server = spawn('/usr/sbin/mariadbd', ['--no-defaults', `--datadir=${datadir}`, `--socket=${join(dir, 'sock')}`, `--port=${port}`,
    '--bind-address=127.0.0.1', '--user=root', '--skip-grant-tables', '--innodb-buffer-pool-size=32M', '--skip-log-bin',
    `--pid-file=${join(dir, 'pid')}`, `--log-error=${join(dir, 'err.log')}`], { stdio: 'ignore' })
  for (let i = 0; i < 200; i++) {
    try {
      const c = await connectMysql(url)
      await c.end()
      return
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error('private mariadbd did not start in 20 s')
}

async function killServer(): Promise<void> {
  const s = server!
  const gone = new Promise((r) => s.once('exit', r))
  s.kill('SIGKILL')
  await gone
}

const fresh = await createTestDb()
t.teardown(async () => {
  if (server !== null && server.exitCode === null && server.signalCode === null) await killServer()
  rmSync(dir, { recursive: true, force: true })
  await fresh.drop()
})

const until = async (what: string, ok: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for: ${what}`)
}

t.test('the runner waits with backoff while MariaDB is down, reports it, and resumes', async (t) => {
  await startServer()
  const c = await connectMysql(url)
  await migrate(c)
  await c.end()
  const events = chatWorkload(6000, { users: 20, threads: 8, seed: 3 })
  const source = new ArrayEventSource(events.slice(0, 3000))
  const logs: string[] = []
  const runner = new ProjectionRunner({ source, connect: () => connectMysql(url), projections: mysqlProjections, batchEvents: 100, backoffMs: { min: 100, max: 800 }, log: (l) => logs.push(l) })
  const stop = new AbortController()
  const running = runner.run(stop.signal)
  await until('some progress', async () => (await runner.status()).position >= 1000)
  await killServer() // mid-run: batches are in flight
  source.append(...events.slice(3000, 4500)) // the ledger keeps growing meanwhile
  let down: RunnerStatus | null = null
  await until('the error is reported', async () => {
    down = await runner.status()
    return down.lastError !== null
  })
  await new Promise((r) => setTimeout(r, 1500))
  const during = await runner.status()
  t.ok(during.lastError !== null, `status().lastError while down: ${during.lastError}`)
  t.ok(during.lag > 1500, `status().lag while down: ${during.lag}`)
  t.equal(during.position, down!.position, 'no progress while down')
  const retries = logs.filter((l) => /retrying in \d+ ms/.test(l)).map((l) => Number(/retrying in (\d+) ms/.exec(l)![1]))
  t.ok(retries.length >= 3 && retries.length < 30, `retried with backoff, not in a busy loop (${retries.length} retries in ~1.5 s)`)
  t.ok(retries.includes(800) && retries.every((d, i) => i === 0 || d >= retries[i - 1]!), `delays grow to the cap: ${retries.join(', ')}`)

  await startServer() // same datadir: committed batches survived the SIGKILL
  source.append(...events.slice(4500))
  await until('caught up', async () => (await runner.status()).position === events.length - 1, 60_000)
  const after = await runner.status()
  t.same([after.lag, after.lastError], [0, null], 'lag 0 and the error cleared once back')
  stop.abort()
  await running
  await runner.close()

  const conn = await connectMysql(url)
  t.teardown(() => conn.end())
  const rebuilt = await project(fresh, events, 1000)
  t.teardown(() => rebuilt.end())
  const tables = mysqlProjections.flatMap((p) => p.tables)
  t.same(await tableDigest(conn, tables), await tableDigest(rebuilt, tables), 'every table equals a fresh rebuild')
})
