// Logout against the whole stack, in Node: the thread work queued when the user logs out
// lands in the vault under the real key, and the next unlock opens the session.
import t from 'tap'
import WebSocket from 'ws'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import type { KeyFileKeys } from '../../../domain/keyfile.ts'
import { ApiClient, type SessionInfo } from '../core/api/client.ts'
import { Session } from '../core/session.ts'
import { memoryKv, type KvStore } from '../core/store/kv.ts'
import { loadAccount, openVault, saveAccount, VaultErrorCode } from '../core/store/vault.ts'
import { registerTestUser, startStack, testSlowOps, type Stack } from '../e2e/stack.ts'
import { endSession } from './app.ts'

let stack: Stack
t.before(async () => {
  stack = await startStack()
})
t.teardown(async () => stack?.stop())

const slow = testSlowOps

type Device = { username: string; keys: KeyFileKeys; info: SessionInfo; api: ApiClient; kv: KvStore }

async function register(username: string): Promise<Device> {
  const { api, keys, info, keyFile } = await registerTestUser(stack, username)
  const kv = memoryKv()
  await saveAccount(kv, { v: 1, username, userId: keys.userId, deviceId: keys.deviceId, keyFile, wrappedVaultKey: null })
  return { username, keys, info, api, kv }
}

/** What App.unlock does: the stored account, the real keys, Session.open (reads every record it knows). */
async function unlock(d: Device): Promise<Session> {
  const rec = await loadAccount(d.kv, d.username)
  const { vault, record } = openVault(d.kv, crypto, rec!, d.keys)
  if (record !== rec) await saveAccount(d.kv, record)
  return Session.open({
    api: d.api, crypto, vault, slow, keys: d.keys, info: d.info, wsUrl: stack.url.replace('http', 'ws') + '/api/ws',
    openSocket: (url) => new WebSocket(url, { origin: stack.url }) as never,
  })
}

const texts = (s: Session, id: string) => (s.threads.get(id)?.messages ?? []).filter((m) => m.kind === 'text').map((m) => m.text)

t.test('logout waits for queued thread work, then the vault refuses writes; the next unlock reads it all', async (t) => {
  const aliceDev = await register('lo_alice')
  const bobDev = await register('lo_bob')
  const alice = await unlock(aliceDev)
  await alice.start()
  // Bob is not started (no ws): his only thread work is the sync queued below.
  let bob = await unlock(bobDev)
  const id = await alice.createThread('Logout thread', ['lo_bob'])
  await alice.sendText(id, 'sent before bob logs out')

  bob.scheduleSync(id) // join from the Welcome, catch up, save: several awaits, then vault.put
  await endSession(bob)
  await t.rejects(bob.vault.put('member', {}), { code: VaultErrorCode.closed }, 'after logout the vault refuses writes')

  bob = await unlock(bobDev)
  t.equal(bob.threads.get(id)?.status, 'active', 'the next unlock opens, with the thread joined before logout')
  t.same(texts(bob, id), ['sent before bob logs out'], 'and the message that sync read')
  await endSession(bob)

  // The old order (no wait): a sync in flight when the key is wiped must fail, not write.
  await alice.sendText(id, 'sent while bob locks in a hurry')
  bob = await unlock(bobDev)
  bob.scheduleSync(id)
  bob.close()
  bob.vault.close()
  await bob.idle()
  t.match(bob.threads.get(id)?.error ?? '', /vault is closed/, 'the late sync failed on the closed vault')

  bob = await unlock(bobDev)
  t.equal(bob.threads.get(id)?.status, 'active', 'the next unlock still opens: nothing was sealed under the wiped key')
  await bob.sync(id)
  t.same(texts(bob, id), ['sent before bob logs out', 'sent while bob locks in a hurry'], 'and catches up from what was saved')
  await endSession(bob)
  await endSession(alice)
})
