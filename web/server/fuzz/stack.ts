// One whole Zixt for a web test file: ops/start.ts's startSystem (4-replica cluster,
// projections, ingest, web) with its own database, Redis prefix and data folder; mails kept
// in memory; users registered and verified through the real HTTP routes; the first admin
// made by `zixt admin create` itself (ops/admin.ts main); and an exact snapshot of what
// the server side holds (ledger heights, every table's checksum, Redis keys, blob files).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RowDataPacket } from 'mysql2/promise'
import WebSocket from 'ws'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { toBase64url } from '../../../domain/encoding.ts'
import { openKeyFile, type KeyFileKeys } from '../../../domain/keyfile.ts'
import { main as adminMain } from '../../../ops/admin.ts'
import { startSystem, type RunningSystem } from '../../../ops/start.ts'
import { dropDatabase, mysqlPool } from '../../../projections/db.ts'
import { ApiClient } from '../../client/core/api/client.ts'
import { buildRegisterUser, newAccountKeys } from '../../client/core/api/commands.ts'
import { connectLive, type LiveConnection, type ServerMessage } from '../../client/core/api/live.ts'
import type { WebConfig } from '../context.ts'
import type { Mail } from '../mailer.ts'

export const password = 'correct horse battery staple'
export const testPasswordCost = { N: 2 ** 12, r: 8, p: 1 }
export { crypto }

export type TestUser = { readonly name: string; readonly keys: KeyFileKeys; readonly api: ApiClient; readonly userId: string; readonly deviceId: string }

export type Snapshot = {
  readonly heights: readonly number[]
  readonly position: number
  readonly tables: Readonly<Record<string, string>> // table → "rows:checksum"
  readonly redis: Readonly<Record<string, string>> // key → type:value digest
  readonly files: readonly string[] // blob files (path:size)
}

export type WebStack = {
  readonly sys: RunningSystem
  readonly url: string
  readonly mails: Mail[]
  readonly dataDir: string
  readonly dbName: string
  readonly prefix: string
  register(name: string, o?: { verify?: boolean }): Promise<TestUser>
  /** `npx zixt admin create` against this stack, then a login with the key file it wrote. */
  createAdmin(name: string): Promise<TestUser>
  login(name: string, keys: KeyFileKeys, extra?: { totp?: string; backupCode?: string }): Promise<TestUser>
  live(u: TestUser, got: ServerMessage[]): Promise<LiveConnection>
  /** Waits until every replica reports the same height (stats come each second). */
  settled(): Promise<number[]>
  snapshot(o?: { ignoreRedis?: (key: string) => boolean }): Promise<Snapshot>
  stop(): Promise<void>
}

export async function waitFor<T>(what: string, f: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (let i = 0; i < 100_000 && Date.now() < end; i++) {
    const v = await f()
    if (v !== undefined && v !== null && v !== false) return v
    await new Promise((r) => setTimeout(r, 40))
  }
  throw new Error(`timed out waiting for ${what}`)
}

export async function startWebStack(o: { tag: string; webProcesses?: number; log?: (l: string) => void; config?: Partial<WebConfig> } = { tag: 'web' }): Promise<WebStack> {
  const dbName = `zixt_${o.tag}_${toBase64url(crypto.randomBytes(6)).replace(/[^a-zA-Z0-9]/g, 'x').toLowerCase()}`
  const mysqlUrl = `mysql://root@127.0.0.1:3306/${dbName}`
  const prefix = `${dbName}:`
  const dataDir = mkdtempSync(join(tmpdir(), `zixt-${o.tag}-`))
  const mails: Mail[] = []
  const big = { limit: 100_000, windowS: 60 }
  const sys = await startSystem({
    dataDir, mysqlUrl, redisPrefix: prefix, port: 0, webProcesses: o.webProcesses ?? 1, log: o.log ?? (() => {}),
    mailer: { send: async (m) => void mails.push(m), close() {} },
    config: { passwordCost: testPasswordCost, staticDir: null, rates: { login: big, register: big, resend: { limit: 3, windowS: 3600 }, upload: big }, ...o.config },
    rates: { commands: { limit: 100_000, windowS: 10 }, posts: { limit: 100_000, windowS: 10 } },
  })
  const url = sys.urls[0]!
  const pool = mysqlPool(mysqlUrl, 2)

  async function login(name: string, keys: KeyFileKeys, extra: { totp?: string; backupCode?: string } = {}): Promise<TestUser> {
    const api = new ApiClient({ baseUrl: url, cookieJar: true })
    await api.login({ username: name, password, keys, crypto, ...extra })
    return { name, keys, api, userId: keys.userId, deviceId: keys.deviceId }
  }

  async function register(name: string, opt: { verify?: boolean } = {}): Promise<TestUser> {
    const api = new ApiClient({ baseUrl: url, cookieJar: true })
    const keys = newAccountKeys(crypto, name)
    const email = `${name}@example.org`
    const { registrationId, encryptedEmail } = await api.registerBegin(email)
    await api.registerComplete({ registrationId, password, command: buildRegisterUser({ keys, username: name, encryptedEmail, now: Date.now(), crypto }) })
    if (opt.verify !== false) {
      const mail = await waitFor(`mail to ${email}`, () => mails.find((m) => m.to === email))
      const token = /token=([A-Za-z0-9_-]{43})/.exec(mail.text)![1]!
      await api.verifyEmail(token)
    }
    await api.login({ username: name, password, keys, crypto })
    return { name, keys, api, userId: keys.userId, deviceId: keys.deviceId }
  }

  async function createAdmin(name: string): Promise<TestUser> {
    const saved = { pw: process.env['ZIXT_ADMIN_PASSWORD'], db: process.env['ZIXT_MYSQL_URL'] }
    process.env['ZIXT_ADMIN_PASSWORD'] = password
    process.env['ZIXT_MYSQL_URL'] = mysqlUrl
    let code: number
    try {
      code = await adminMain(['create', '--username', name, '--email', `${name}@example.org`, '--data', dataDir])
    } finally {
      if (saved.pw === undefined) delete process.env['ZIXT_ADMIN_PASSWORD']
      else process.env['ZIXT_ADMIN_PASSWORD'] = saved.pw
      if (saved.db === undefined) delete process.env['ZIXT_MYSQL_URL']
      else process.env['ZIXT_MYSQL_URL'] = saved.db
    }
    if (code !== 0) throw new Error(`zixt admin create exited ${code}`)
    const keys = await openKeyFile(readFileSync(join(dataDir, `admin-${name}.zixtkey.json`), 'utf8'), password, crypto)
    await waitFor('the admin device in the read model', () => sys.read.device(keys.deviceId))
    return login(name, keys)
  }

  function live(u: TestUser, got: ServerMessage[]): Promise<LiveConnection> {
    const l = connectLive({
      api: u.api, url: `${url.replace('http', 'ws')}/api/ws`, reconnect: false,
      open: (wsUrl) => new WebSocket(wsUrl, { origin: url }) as never,
      onMessage: (m) => got.push(m),
    })
    return l.ready().then(() => l)
  }

  async function settled(): Promise<number[]> {
    let heights: number[] = []
    await waitFor('replicas at one height', async () => {
      await new Promise((r) => setTimeout(r, 1100)) // a fresh stats line from every replica
      const now = sys.cluster.addresses.map((a) => sys.cluster.stats(a.index)?.height ?? -1)
      const same = now.every((h) => h === now[0]) && now.join() === heights.join()
      heights = now
      return same
    }, 20_000)
    return heights
  }

  async function snapshot(s: { ignoreRedis?: (key: string) => boolean } = {}): Promise<Snapshot> {
    const heights = await settled()
    const position = await sys.read.position()
    const [list] = await pool.query<RowDataPacket[]>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name', [dbName])
    const tables: Record<string, string> = {}
    for (const r of list) {
      const t = r['t'] as string
      const [[c]] = await pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${t}\``) as unknown as [RowDataPacket[]]
      const [[k]] = await pool.query<RowDataPacket[]>(`CHECKSUM TABLE \`${t}\``) as unknown as [RowDataPacket[]]
      tables[t] = `${c!['n']}:${k!['Checksum']}`
    }
    const redis: Record<string, string> = {}
    let cursor = '0'
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await sys.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      for (const key of keys) {
        if (s.ignoreRedis?.(key.slice(prefix.length))) continue
        const type = await sys.redis.type(key)
        const dump = await sys.redis.dumpBuffer(key)
        redis[key.slice(prefix.length)] = `${type}:${dump === null ? 'gone' : Buffer.from(crypto.sha256(dump)).toString('hex').slice(0, 16)}`
      }
      cursor = next
      if (cursor === '0') break
    }
    return { heights, position, tables, redis, files: blobFiles(join(dataDir, 'blobs')) }
  }

  return {
    sys, url, mails, dataDir, dbName, prefix, register, createAdmin, login, live, settled, snapshot,
    async stop() {
      await pool.end().catch(() => {})
      await sys.stop().catch(() => {})
      await dropDatabase(mysqlUrl).catch(() => {})
      const { Redis } = await import('ioredis')
      const r = new Redis('redis://127.0.0.1:6379')
      const keys = await r.keys(`${prefix}*`).catch(() => [] as string[])
      if (keys.length > 0) await r.del(...keys).catch(() => {})
      r.disconnect()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Every file under the blob folder (temp files included) with its size. */
export function blobFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    let names: string[]
    try {
      names = readdirSync(d)
    } catch {
      return
    }
    for (const n of names) {
      const p = join(d, n)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else out.push(`${p.slice(dir.length)}:${st.size}`)
    }
  }
  walk(dir)
  return out.sort()
}
