// `zixt admin create` when the network fails half-way: BootstrapAdmin is committed (the
// bootstrap is closed for good) and the next submit is lost. The admin's secrets must be
// on disk and in MySQL already, and running the command again must finish the job.
// One fresh system for the file: the bootstrap can happen once per ledger.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { ConsensusClient } from '../consensus/client.ts'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { openKeyFile } from '../domain/keyfile.ts'
import { ApiClient } from '../web/client/core/api/client.ts'
import { WebStore } from '../web/server/store.ts'
import { main } from './admin.ts'
import { startSystem } from './start.ts'
import { cli, removeTestSystem, until } from './testing/cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'zixt-admin-'))
const dbName = `zixt_admin_${process.pid}`
const mysqlUrl = `mysql://root@127.0.0.1:3306/${dbName}`
const prefix = `${dbName}:`
const sys = await startSystem({ dataDir, mysqlUrl, redisPrefix: prefix, port: 0, log: () => {} })
t.teardown(() => removeTestSystem(sys, { mysqlUrl, redisPrefix: prefix, dataDir }))

/** The network drops the `n`th submit (1-based): the caller sees an error, the cluster never sees the command. */
function failingOnSubmit(n: number): (c: ConsensusClient) => ConsensusClient {
  return (c) => {
    let submits = 0
    return {
      submit: (bytes) => (++submits === n ? Promise.reject(new Error(`simulated network failure on submit ${n}`)) : c.submit(bytes)),
      connectedReplicas: () => c.connectedReplicas(),
      retransmissions: () => c.retransmissions(),
      queued: () => c.queued(),
      shed: () => c.shed(),
      close: () => c.close(),
    }
  }
}

const password = 'correct horse battery'
const pwFile = join(dataDir, 'pw.txt')
writeFileSync(pwFile, password + '\n')
const keyFile = join(dataDir, 'admin-firstadmin.zixtkey.json')
const create = (username: string, pw = pwFile): string[] =>
  ['create', '--username', username, '--email', 'first@example.com', '--password-file', pw, '--data', dataDir]

t.test('the second submit fails after BootstrapAdmin committed: the key file and data key are kept', async (t) => {
  const code = await main(create('firstadmin'), { wrapClient: failingOnSubmit(2) })
  t.equal(code, 1, 'the run fails')
  t.ok(existsSync(keyFile), 'the key file is written before anything is submitted')
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'owner-only')
  const keys = await openKeyFile(readFileSync(keyFile, 'utf8'), password, crypto)
  t.equal(keys.username, 'firstadmin')
  const user = await until('the bootstrapped admin in the read model', () => sys.read.userById(keys.userId))
  t.match(user, { username: 'firstadmin', admin: true }, 'BootstrapAdmin was committed: the bootstrap is closed now')
  t.equal(await sys.read.device(keys.deviceId), null, 'the device was never added')
  t.ok(await new WebStore(sys.read.db).dataKey(keys.userId), 'the e-mail data key is stored')
})

t.test('a rerun that is not the same admin is refused and changes nothing', async (t) => {
  const wrongPw = join(dataDir, 'wrong.txt')
  writeFileSync(wrongPw, 'not the password at all\n')
  const before = readFileSync(keyFile, 'utf8')
  const wrong = await cli(['admin', ...create('firstadmin', wrongPw)])
  t.equal(wrong.code, 1)
  t.match(wrong.err, /does not open with this password/)
  copyFileSync(keyFile, join(dataDir, 'admin-other.zixtkey.json'))
  const other = await cli(['admin', ...create('other')])
  t.equal(other.code, 1)
  t.match(other.err, /belongs to 'firstadmin', not 'other'/)
  t.equal(readFileSync(keyFile, 'utf8'), before, 'the key file is untouched')
})

t.test('running the same command again finishes it, and the admin logs in', async (t) => {
  const r = await cli(['admin', ...create('firstadmin')])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /admin 'firstadmin' created/)
  t.match(r.err, /earlier run for 'firstadmin'/)
  const keys = await openKeyFile(readFileSync(keyFile, 'utf8'), password, crypto)
  t.match(await until('the device in the read model', () => sys.read.device(keys.deviceId)), { userId: keys.userId, revoked: false })
  const api = new ApiClient({ baseUrl: sys.urls[0]!, cookieJar: true })
  const session = await until('the admin can log in', () => api.login({ username: 'firstadmin', password, keys, crypto }))
  t.match(session, { username: 'firstadmin', admin: true, keyRotationDue: false })
  t.equal(await sys.read.adminCount(), 1, 'still the one admin')
})

t.test('once an admin exists, a new admin create is rejected and leaves no key file behind', async (t) => {
  const r = await cli(['admin', ...create('second')])
  t.equal(r.code, 1)
  t.match(r.err, /BootstrapAdmin rejected: ZIXT_ERR_ADMIN_EXISTS/)
  t.notOk(existsSync(join(dataDir, 'admin-second.zixtkey.json')), 'no key file for an admin that does not exist')
})
