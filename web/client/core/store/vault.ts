// The device's key store. Per account:
//   account:<username>   the sealed key file (domain/keyfile.ts: scrypt + AES-256-GCM under
//                        the passphrase; the same JSON `npx zixt keygen` writes and the
//                        export button downloads) plus a wrapped random vault key
//   v:<userId>:<name>    records encrypted under the vault key (MLS member, group state
//                        per thread, decrypted message cache)
// The vault key is wrapped under HKDF(identity secret key), so everything is reachable only
// through the passphrase, which costs one scrypt per unlock.
import type { CryptoFacade } from '../../../../domain/crypto/types.ts'
import { concatBytes, fromBase64url, toBase64url, utf8Decode, utf8Encode } from '../../../../domain/encoding.ts'
import { parseKeyFile, type KeyFile, type KeyFileKeys } from '../../../../domain/keyfile.ts'
import { ZixtError } from '../../../../domain/errors.ts'
import { decode, encode, type Value } from '../../../../domain/ledger/codec.ts'
import type { KvStore } from './kv.ts'

export type AccountRecord = {
  readonly v: 1
  readonly username: string
  readonly userId: string
  readonly deviceId: string
  readonly keyFile: KeyFile
  /** nonce(12) ‖ AES-256-GCM(wrapKey, nonce, vaultKey); absent until first unlock on this device. */
  readonly wrappedVaultKey: string | null
}

const accountKey = (username: string): string => `account:${username.toLowerCase()}`

export async function loadAccount(kv: KvStore, username: string): Promise<AccountRecord | undefined> {
  const raw = await kv.get(accountKey(username))
  if (raw === undefined) return undefined
  const rec = JSON.parse(utf8Decode(raw)) as AccountRecord
  parseKeyFile(rec.keyFile) // a tampered record fails here, before any scrypt work
  return rec
}

export async function saveAccount(kv: KvStore, rec: AccountRecord): Promise<void> {
  await kv.put(accountKey(rec.username), utf8Encode(JSON.stringify(rec)))
}

export async function listAccounts(kv: KvStore): Promise<string[]> {
  return (await kv.keys('account:')).map((k) => k.slice('account:'.length))
}

const WRAP_INFO = utf8Encode('zixt/vault-wrap/v1')
const RECORD_AAD = 'zixt/vault-record/v1:'

function wrapKeyFor(keys: KeyFileKeys, crypto: CryptoFacade): Uint8Array {
  return crypto.hkdfSha3_256(keys.identity.secretKey, utf8Encode(keys.userId), WRAP_INFO, 32)
}

/** Opens (or on first use creates) the vault of an unlocked account. Returns the record to save when it changed. */
export function openVault(kv: KvStore, crypto: CryptoFacade, rec: AccountRecord, keys: KeyFileKeys): { vault: Vault; record: AccountRecord } {
  const wrapKey = wrapKeyFor(keys, crypto)
  let vaultKey: Uint8Array
  let record = rec
  if (rec.wrappedVaultKey === null) {
    vaultKey = crypto.randomBytes(32)
    const nonce = crypto.randomBytes(12)
    record = { ...rec, wrappedVaultKey: toBase64url(concatBytes(nonce, crypto.aes256gcm.encrypt(wrapKey, nonce, vaultKey, WRAP_INFO))) }
  } else {
    const w = fromBase64url(rec.wrappedVaultKey)
    vaultKey = crypto.aes256gcm.decrypt(wrapKey, w.subarray(0, 12), w.subarray(12), WRAP_INFO)
  }
  wrapKey.fill(0)
  return { vault: new Vault(kv, crypto, vaultKey, keys.userId), record }
}

export const VaultErrorCode = {
  closed: 'ZIXT_ERR_VAULT_CLOSED', // used after logout: the key is wiped
} as const

/** Encrypted records of one account. Each record is bound to its name (AAD). */
export class Vault {
  readonly #kv: KvStore
  readonly #crypto: CryptoFacade
  readonly #key: Uint8Array
  readonly #prefix: string
  #closed = false

  constructor(kv: KvStore, crypto: CryptoFacade, key: Uint8Array, userId: string) {
    this.#kv = kv
    this.#crypto = crypto
    this.#key = key
    this.#prefix = `v:${userId}:`
  }

  async get(name: string): Promise<Value | undefined> {
    this.#assertOpen('read', name)
    const raw = await this.#kv.get(this.#prefix + name)
    if (raw === undefined) return undefined
    this.#assertOpen('read', name) // closed while the store was reading
    const pt = this.#crypto.aes256gcm.decrypt(this.#key, raw.subarray(0, 12), raw.subarray(12), utf8Encode(RECORD_AAD + name))
    return decode(pt, { itemsMax: 10_000_000 })
  }

  /** Encrypts before the first await, so a put either seals under the real key or throws. */
  async put(name: string, value: Value): Promise<void> {
    this.#assertOpen('write', name)
    const nonce = this.#crypto.randomBytes(12)
    const ct = this.#crypto.aes256gcm.encrypt(this.#key, nonce, encode(value, { itemsMax: 10_000_000 }), utf8Encode(RECORD_AAD + name))
    await this.#kv.put(this.#prefix + name, concatBytes(nonce, ct))
  }

  async names(prefix: string): Promise<string[]> {
    this.#assertOpen('list', prefix)
    return (await this.#kv.keys(this.#prefix + prefix)).map((k) => k.slice(this.#prefix.length))
  }

  /**
   * Forget the key in memory (logout). Any later get/put throws ZIXT_ERR_VAULT_CLOSED: a
   * late write would otherwise seal a record under the wiped (all-zero) key, readable by
   * anyone with the disk and unreadable at the next unlock.
   */
  close(): void {
    this.#closed = true
    this.#key.fill(0)
  }

  #assertOpen(op: string, name: string): void {
    if (this.#closed) throw new ZixtError(VaultErrorCode.closed, `cannot ${op} vault record "${name}": the vault is closed (logged out)`, { name })
  }
}
