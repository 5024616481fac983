// Operator commands against a running system (one stack for the file): `zixt admin create`
// and `zixt rotate-keys` run as separate processes on the data folder of a system started
// with startSystem (what `npm start` runs), find it through data/system.json, and act on it.
// Block time is moved for the rotation checks by running the replicas (and the CLI) with
// testing/clockOffset.ts: the domain ages keys by block time, so no other honest way exists.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { openKeyFile } from '../domain/keyfile.ts'
import { limits } from '../domain/limits.ts'
import { ApiClient } from '../web/client/core/api/client.ts'
import { selectKeys } from './rotateKeys.ts'
import { startSystem } from './start.ts'
import { cli, removeTestSystem, until } from './testing/cli.ts'
import { readSystemFile, systemFilePath } from './systemFile.ts'

const DAY = 24 * 3600_000
const PRELOAD = pathToFileURL(new URL('./testing/clockOffset.ts', import.meta.url).pathname).href
const dataDir = mkdtempSync(join(tmpdir(), 'zixt-operator-'))
const clockFile = join(dataDir, 'clock-offset')
const dbName = `zixt_operator_${process.pid}`
const mysqlUrl = `mysql://root@127.0.0.1:3306/${dbName}`
const prefix = `${dbName}:`
writeFileSync(clockFile, '0')
// the replicas startSystem spawns inherit this: their clock reads clockFile
process.env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import=${PRELOAD}`.trim()
process.env['ZIXT_TEST_CLOCK_FILE'] = clockFile

const logs: string[] = []
const sys = await startSystem({ dataDir, mysqlUrl, redisPrefix: prefix, port: 0, log: (l) => logs.push(l) })
t.teardown(() => removeTestSystem(sys, { mysqlUrl, redisPrefix: prefix, dataDir }))

t.test('the running system describes itself in data/system.json, without secrets', async (t) => {
  const s = readSystemFile(dataDir)
  t.match(s, { pid: process.pid, urls: sys.urls, redisPrefix: prefix, passwordsFromEnv: false })
  t.equal(s?.replicas.length, 4)
  const text = readFileSync(systemFilePath(dataDir), 'utf8')
  const service = JSON.parse(readFileSync(join(dataDir, 'service-key.json'), 'utf8')) as { secretKey: string }
  t.notOk(text.includes(service.secretKey), 'the service key is not in it')
  await t.rejects(startSystem({ dataDir, mysqlUrl, redisPrefix: prefix, port: 0, services: false }), /already runs/, 'a second start on the same folder is refused')
})

const password = 'correct horse battery'
let deviceId = ''

t.test('admin create against the running system, then that admin logs in', async (t) => {
  const pwFile = join(dataDir, 'pw.txt')
  writeFileSync(pwFile, password + '\n')
  const r = await cli(['admin', 'create', '--username', 'opsadmin', '--email', 'ops@example.com', '--password-file', pwFile, '--data', dataDir], false)
  t.equal(r.code, 0, r.err)
  t.match(r.out, /admin 'opsadmin' created/)
  const keys = await openKeyFile(readFileSync(join(dataDir, 'admin-opsadmin.zixtkey.json'), 'utf8'), password, crypto)
  deviceId = keys.deviceId
  const api = new ApiClient({ baseUrl: sys.urls[0]!, cookieJar: true })
  const session = await until('the admin in the read model', () => api.login({ username: 'opsadmin', password, keys, crypto }))
  t.match(session, { username: 'opsadmin', admin: true, keyRotationDue: false })
})

async function device(): Promise<{ rotationDue: boolean; expired: boolean }> {
  const d = (await sys.read.devices((await sys.read.device(deviceId))!.userId))[0]!
  return { rotationDue: d.rotationDue, expired: d.expired }
}

t.test('rotate-keys marks a key older than 30 days due and expires one older than 90', async (t) => {
  const now = Date.now()
  t.same(await sys.rotateKeys(now, () => {}), { markedDue: 0, expired: 0, rejected: 0 }, 'a fresh key is left alone')
  const sel = (at: number) => selectKeys({ read: sys.read, eventTime: (p) => sys.ledger.readEvents(p, 1)[0]?.time ?? null, now: at })
  t.same((await sel(now + 29 * DAY)).due, [], 'not due at 29 days')
  t.same((await sel(now + 31 * DAY)).due.map((k) => k.deviceId), [deviceId], 'due at 31 days')
  t.same((await sel(now + 91 * DAY)).expire.map((k) => k.deviceId), [deviceId], 'expired at 91 days')

  writeFileSync(clockFile, String(31 * DAY)) // block time moves 31 days ahead
  await new Promise((r) => setTimeout(r, 200))
  const due = await cli(['rotate-keys', '--data', dataDir], true)
  t.equal(due.code, 0, due.err)
  t.match(due.out, /1 device key\(s\) marked due, 0 expired/)
  t.notMatch(due.out, /starting its 4 replicas/, 'it used the running system')
  t.same(await until('rotation due in the read model', async () => (await device()).rotationDue && device()), { rotationDue: true, expired: false })

  writeFileSync(clockFile, String(91 * DAY))
  await new Promise((r) => setTimeout(r, 200))
  const expired = await cli(['rotate-keys', '--data', dataDir], true)
  t.equal(expired.code, 0, expired.err)
  t.match(expired.out, /0 device key\(s\) marked due, 1 expired/)
  t.same(await until('expiry in the read model', async () => (await device()).expired && device()), { rotationDue: true, expired: true })
  t.ok(limits.deviceKeyExpiryMs === 90 * DAY)
})

t.test('a clean stop removes data/system.json; then admin create says to start the system', async (t) => {
  await sys.stop()
  t.notOk(existsSync(systemFilePath(dataDir)))
  const r = await cli(['admin', 'create', '--username', 'second', '--email', 's@example.com', '--data', dataDir], false)
  t.equal(r.code, 1)
  t.match(r.err, /no running system/)
})
