// The vault after logout: a write that arrives late (an in-flight sync, key packages)
// must fail rather than seal a record under the wiped key, and the next unlock must
// read every record.
import t from 'tap'
import { nativeCrypto as crypto } from '../../../../domain/crypto/native.ts'
import { sealKeyFile } from '../../../../domain/keyfile.ts'
import type { Value } from '../../../../domain/ledger/codec.ts'
import { newAccountKeys } from '../api/commands.ts'
import { memoryKv, type KvStore } from './kv.ts'
import { loadAccount, openVault, saveAccount, VaultErrorCode } from './vault.ts'

const keys = newAccountKeys(crypto, 'alice')

async function freshAccount(kv: KvStore) {
  const keyFile = await sealKeyFile(keys, 'correct horse battery staple', crypto, { createdAt: 0, scrypt: { N: 2 ** 10, r: 8, p: 1 } })
  const { vault, record } = openVault(kv, crypto, { v: 1, username: 'alice', userId: keys.userId, deviceId: keys.deviceId, keyFile, wrappedVaultKey: null }, keys)
  await saveAccount(kv, record)
  return vault
}

async function snapshot(kv: KvStore): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const k of await kv.keys('')) out.set(k, Buffer.from((await kv.get(k))!).toString('hex'))
  return out
}

const records: Record<string, Value> = {
  member: { member: new Uint8Array([1, 2, 3]), claimed: ['ref-a'] },
  't:thread-1': { group: new Uint8Array(64).fill(5), lastPosition: 12, status: 'active' },
  't:thread-2': { group: null, lastPosition: 0, status: 'joining' },
}

t.test('a write after close throws and writes nothing; the real key still reads every record', async (t) => {
  const kv = memoryKv()
  const vault = await freshAccount(kv)
  for (const [name, value] of Object.entries(records)) await vault.put(name, value)
  const before = await snapshot(kv)
  vault.close()

  await t.rejects(vault.put('t:thread-1', { group: new Uint8Array(64), lastPosition: 13, status: 'active' }), { code: VaultErrorCode.closed }, 'an existing record cannot be overwritten after close')
  await t.rejects(vault.put('t:thread-3', { lastPosition: 1 }), { code: VaultErrorCode.closed }, 'a new record cannot be written after close')
  await t.rejects(vault.get('member'), { code: VaultErrorCode.closed }, 'a read after close throws the same clear error')
  await t.rejects(vault.names('t:'), { code: VaultErrorCode.closed }, 'so does listing')
  t.same(await snapshot(kv), before, 'the store holds exactly the bytes it held before close')

  const rec = await loadAccount(kv, 'alice')
  const { vault: again, record } = openVault(kv, crypto, rec!, keys)
  t.equal(record, rec, 'the account record is unchanged (same wrapped vault key)')
  t.same(await again.names('t:'), ['t:thread-1', 't:thread-2'], 'no record was added')
  for (const [name, value] of Object.entries(records)) t.same(await again.get(name), value, `next unlock reads ${name}`)
})

t.test('a read in flight when the vault closes fails with the closed error, not a decrypt error', async (t) => {
  const kv = memoryKv()
  const vault = await freshAccount(kv)
  await vault.put('member', records['member']!)
  const reading = vault.get('member') // awaits the store, then decrypts
  vault.close()
  await t.rejects(reading, { code: VaultErrorCode.closed })
})
