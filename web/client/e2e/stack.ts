// A whole Zixt for client tests: ops/start.ts's startSystem (cluster, projections, ingest,
// web) on a random port with its own database, Redis prefix and data folder, serving the
// built browser bundle; mails captured in memory; a first admin bootstrapped as
// `zixt admin create` would (service-signed BootstrapAdmin + password + key file).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createCommand, signCommand } from '../../../domain/command.ts'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { toBase64url } from '../../../domain/encoding.ts'
import { signDeviceCertificate } from '../../../domain/identity.ts'
import { ApiClient, type SessionInfo } from '../core/api/client.ts'
import { buildCommand, buildRegisterUser, newAccountKeys } from '../core/api/commands.ts'
import { directSlowOps } from '../core/slowOps.ts'
import { keyFileToJson, newUserKeys, sealKeyFile, type KeyFile, type KeyFileKeys } from '../../../domain/keyfile.ts'
import { startSystem, type RunningSystem } from '../../../ops/start.ts'
import { dropDatabase, mysqlPool } from '../../../projections/db.ts'
import { makeVerifier, encryptEmail } from '../../server/secrets.ts'
import { WebStore } from '../../server/store.ts'
import type { Mail } from '../../server/mailer.ts'
import { defaultConfig } from '../../server/context.ts'

export type Stack = {
  readonly url: string
  readonly sys: RunningSystem
  readonly mails: Mail[]
  readonly dataDir: string
  readonly dbName: string
  readonly prefix: string
  /** The verification link mailed to `email` (waits for it). */
  verifyLink(email: string, timeoutMs?: number): Promise<string>
  /** Bootstraps an admin; returns the key file JSON (passphrase = password). */
  createAdmin(username: string, email: string, password: string): Promise<{ userId: string; keyFileJson: string }>
  /** Every byte the server side holds: mysqldump, Redis values of the prefix, ledger + blob files. */
  dumpEverything(): Promise<{ mysql: Buffer; redis: Buffer; files: { path: string; bytes: Buffer }[] }>
  stop(): Promise<void>
}

export const testPasswordCost = { N: 2 ** 12, r: 8, p: 1 }

export async function startStack(o: { staticDir?: string; log?: (l: string) => void } = {}): Promise<Stack> {
  const tag = toBase64url(crypto.randomBytes(6)).replace(/[^a-zA-Z0-9]/g, 'x').toLowerCase()
  const dbName = `zixt_client_${tag}`
  const mysqlUrl = `mysql://root@127.0.0.1:3306/${dbName}`
  const prefix = `${dbName}:`
  const dataDir = mkdtempSync(join(tmpdir(), 'zixt-client-'))
  const mails: Mail[] = []
  const log = o.log ?? (() => {})
  const staticDir = o.staticDir ?? resolve('web/static/dist')
  const sys = await startSystem({
    dataDir, mysqlUrl, redisPrefix: prefix, port: 0, log,
    mailer: { send: async (m) => void mails.push(m), close() {} },
    // every test user registers from 127.0.0.1: the per-IP registration limit (10 a hour) would stop a test at its 6th
    config: { passwordCost: testPasswordCost, staticDir: existsSync(staticDir) ? staticDir : null, rates: { ...defaultConfig.rates, register: { limit: 1000, windowS: 3600 } } },
    rates: { commands: { limit: 10_000, windowS: 10 }, posts: { limit: 10_000, windowS: 10 } },
  })
  const url = sys.urls[0]!
  const pool = mysqlPool(mysqlUrl, 2)
  const store = new WebStore(pool)

  async function verifyLink(email: string, timeoutMs = 20_000): Promise<string> {
    const end = Date.now() + timeoutMs
    while (Date.now() < end) {
      const m = mails.find((x) => x.to === email)
      if (m !== undefined) {
        const link = /(https?:\/\/\S+\/api\/email\/verify\?token=[A-Za-z0-9_-]+)/.exec(m.text)
        if (link !== null) return link[1]!
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`no verification mail for ${email}`)
  }

  async function createAdmin(username: string, email: string, password: string) {
    const keys = newUserKeys(crypto, username)
    const dataKey = crypto.randomBytes(32)
    const encryptedEmail = encryptEmail(dataKey, email, crypto)
    const sk = sys.serviceKey
    const command = createCommand(
      { type: 'BootstrapAdmin', author: sk.keyId, signer: 'service', keyId: sk.keyId, payload: { userId: keys.userId, username, identityPublicKey: toBase64url(keys.identity.publicKey), encryptedEmail } },
      Date.now(), crypto,
    )
    const res = await sys.ingest.submit(signCommand(command, sk.secretKey, 'service', crypto))
    if (res.kind !== 'committed') throw new Error(`BootstrapAdmin: ${JSON.stringify(res)}`)
    for (let i = 0; i < 400 && (await sys.read.userById(keys.userId)) === null; i++) await new Promise((r) => setTimeout(r, 50))
    // BootstrapAdmin makes the account without devices: the key file's device is added by
    // its identity key, as `zixt admin create` does, so the browser can log in with it.
    const device = signDeviceCertificate({ userId: keys.userId, deviceId: keys.deviceId, devicePublicKey: keys.device.publicKey, issuedAt: Date.now(), identitySecretKey: keys.identity.secretKey }, crypto)
    const added = await sys.ingest.submit(buildCommand('AddDevice', { device }, keys, Date.now(), crypto))
    if (added.kind !== 'committed') throw new Error(`AddDevice: ${JSON.stringify(added)}`)
    for (let i = 0; i < 400 && (await sys.read.device(keys.deviceId)) === null; i++) await new Promise((r) => setTimeout(r, 50))
    await store.setVerifier(keys.userId, await makeVerifier(password, testPasswordCost, crypto), Date.now())
    await store.setDataKey(keys.userId, dataKey, Date.now())
    const keyFile = await sealKeyFile(keys, password, crypto, { createdAt: Date.now() })
    return { userId: keys.userId, keyFileJson: keyFileToJson(keyFile) }
  }

  async function dumpEverything() {
    const mysql = execFileSync('mysqldump', ['-uroot', '-h127.0.0.1', '--skip-extended-insert', '--hex-blob=false', dbName], { maxBuffer: 1024 * 1024 * 1024 })
    const parts: Buffer[] = []
    let cursor = '0'
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await sys.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      for (const k of keys) {
        const type = await sys.redis.type(k)
        parts.push(Buffer.from(`${k}\n`))
        if (type === 'string') parts.push((await sys.redis.getBuffer(k)) ?? Buffer.alloc(0))
        else if (type === 'hash') for (const [f, v] of Object.entries(await sys.redis.hgetallBuffer(k))) parts.push(Buffer.from(f), v)
        else if (type === 'list') parts.push(...(await sys.redis.lrangeBuffer(k, 0, -1)))
        else if (type === 'set') parts.push(...(await sys.redis.smembersBuffer(k)))
        else if (type === 'zset') parts.push(...(await sys.redis.zrangeBuffer(k, '0', '-1')))
        else if (type === 'stream') parts.push(Buffer.from(JSON.stringify(await sys.redis.xrange(k, '-', '+'))))
      }
      cursor = next
      if (cursor === '0') break
    }
    const files: { path: string; bytes: Buffer }[] = []
    const walk = (dir: string) => {
      for (const n of readdirSync(dir)) {
        const p = join(dir, n)
        const st = statSync(p)
        if (st.isDirectory()) walk(p)
        else if (st.isFile()) files.push({ path: p, bytes: readFileSync(p) })
      }
    }
    walk(dataDir)
    return { mysql, redis: Buffer.concat(parts), files }
  }

  return {
    url, sys, mails, dataDir, dbName, prefix, verifyLink, createAdmin, dumpEverything,
    async stop() {
      await pool.end().catch(() => {})
      // Bounded: a stuck shutdown must not keep the test (and its browsers) alive.
      await Promise.race([sys.stop().catch(() => {}), new Promise((r) => setTimeout(r, 20_000).unref())])
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

/** The password of every user registerTestUser makes (also its key file's passphrase). */
export const testUserPassword = 'correct horse battery staple'
/** Key-file sealing at a test's cost (scrypt N = 2^10). */
export const testSlowOps = directSlowOps(crypto, { N: 2 ** 10, r: 8, p: 1 })

export type TestUser = { readonly api: ApiClient; readonly keys: KeyFileKeys; readonly info: SessionInfo; readonly keyFile: KeyFile }

/**
 * A user registered through the stack's web (e-mail verified), logged in through `api` (a new
 * cookie-keeping ApiClient unless given: a test's own subclass, say), and its key file sealed
 * under testUserPassword: what a browser holds after sign-up.
 */
export async function registerTestUser(stack: Stack, username: string, api: ApiClient = new ApiClient({ baseUrl: stack.url, cookieJar: true })): Promise<TestUser> {
  const email = `${username}@example.org`
  const { registrationId, encryptedEmail } = await api.registerBegin(email)
  const keys = newAccountKeys(crypto, username)
  await api.registerComplete({ registrationId, password: testUserPassword, command: buildRegisterUser({ keys, username, encryptedEmail, now: Date.now(), crypto }) })
  await fetch(await stack.verifyLink(email), { redirect: 'manual' })
  const info = await api.login({ username, password: testUserPassword, keys, crypto })
  const keyFile = await testSlowOps.sealKeyFile({ keys, password: testUserPassword, now: Date.now() })
  return { api, keys, info, keyFile }
}
