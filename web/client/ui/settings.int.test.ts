// Device key rotation from Settings, against the whole stack in Node: a mistyped password
// is refused before anything changes; the right one rotates and reseals under itself.
import t from 'tap'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { equalBytes } from '../../../domain/ledger/codec.ts'
import { openKeyFile } from '../../../domain/keyfile.ts'
import { Session } from '../core/session.ts'
import { memoryKv } from '../core/store/kv.ts'
import { loadAccount, openVault, saveAccount } from '../core/store/vault.ts'
import { registerTestUser, startStack, testSlowOps, testUserPassword, type Stack } from '../e2e/stack.ts'
import { rotateDeviceKey } from './settings.ts'

let stack: Stack
t.before(async () => {
  stack = await startStack()
})
t.teardown(async () => stack?.stop())

const password = testUserPassword
const slow = testSlowOps

t.test('rotating the device key checks the password against the stored key file first', async (t) => {
  const username = 'rot_alice'
  const { api, keys, info, keyFile } = await registerTestUser(stack, username)
  const kv = memoryKv()
  const { vault, record } = openVault(kv, crypto, { v: 1, username, userId: keys.userId, deviceId: keys.deviceId, keyFile, wrappedVaultKey: null }, keys)
  await saveAccount(kv, record)
  const s = await Session.open({ api, crypto, vault, slow, keys, info, wsUrl: stack.url.replace('http', 'ws') + '/api/ws' })
  const keyVersion = async () => (await api.myDevices()).devices.find((d) => d.deviceId === keys.deviceId)?.keyVersion

  const version0 = await keyVersion()
  const stored0 = JSON.stringify((await loadAccount(kv, username))!.keyFile)
  await t.rejects(rotateDeviceKey(kv, s, 'correct horse battery stapel', Date.now), { message: /Wrong password.*not rotated/ }, 'a mistyped password is refused with a clear message')
  t.equal(await keyVersion(), version0, 'the ledger did not rotate the device key')
  t.equal(JSON.stringify((await loadAccount(kv, username))!.keyFile), stored0, 'the stored key file is unchanged')
  t.equal(s.keys, keys, 'the session keeps its keys')
  const stillOpens = await openKeyFile((await loadAccount(kv, username))!.keyFile, password, crypto)
  t.ok(equalBytes(stillOpens.device.publicKey, keys.device.publicKey), 'the real password still opens the stored key file')

  await rotateDeviceKey(kv, s, password, Date.now)
  t.equal(await keyVersion(), version0! + 1, 'with the right password the ledger rotates the device key')
  t.notOk(equalBytes(s.keys.device.publicKey, keys.device.publicKey), 'the session signs with the new device key')
  const reopened = await openKeyFile((await loadAccount(kv, username))!.keyFile, password, crypto)
  t.ok(equalBytes(reopened.device.publicKey, s.keys.device.publicKey), 'the stored key file holds the new key and opens with the same password')
  s.close()
  await s.idle()
  vault.close()
})
