// The key file: a user's identity key (SLH-DSA-SHAKE-256f) and device key (ML-DSA-65),
// sealed under a passphrase. One JSON format shared by `npx zixt keygen` and the browser's
// import/export. scrypt (RFC 7914) turns the passphrase into an AES-256-GCM key; every
// clear-text field is bound to the ciphertext as associated data, so editing any of them
// makes the file fail to open exactly like a wrong passphrase does.
import type { CryptoFacade, KeyPair } from './crypto/types.ts'
import { checkLength } from './crypto/check.ts'
import { mlDsa65Sizes, slhDsaShake256fSizes } from './crypto/params.ts'
import { fromBase64url, toBase64url, utf8Encode } from './encoding.ts'
import { CryptoError, ErrorCode, ZixtError } from './errors.ts'
import { deviceIdFor, fingerprint, userIdFor } from './identity.ts'
import { decode, encode, equalBytes, type Value } from './ledger/codec.ts'
import { limits } from './limits.ts'

export const KEY_FILE_FORMAT = 'zixt-keyfile'
export const KEY_FILE_VERSION = 1
/** OWASP's scrypt floor (N = 2^17, r = 8, p = 1): 128 MiB, ~0.4 s native, a few seconds in JS. */
export const defaultKeyFileScrypt = { N: 2 ** 17, r: 8, p: 1 } as const
const SALT_BYTES = 16
const KEY_BYTES = 32

export type KeyFile = {
  readonly format: typeof KEY_FILE_FORMAT
  readonly version: typeof KEY_FILE_VERSION
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string }
  readonly cipher: { readonly name: 'AES-256-GCM'; readonly nonce: string }
  readonly ciphertext: string
  readonly publicKeys: { readonly identity: string; readonly device: string }
  readonly fingerprints: { readonly identity: string; readonly device: string }
  readonly username: string | null
  readonly createdAt: string // ISO 8601, UTC
}

/** What the ciphertext protects, plus the public halves and the clear-text username. */
export type KeyFileKeys = {
  readonly identity: KeyPair // SLH-DSA-SHAKE-256f
  readonly device: KeyPair // ML-DSA-65
  readonly userId: string
  readonly deviceId: string
  readonly username: string | null
}

export type SealParams = {
  readonly createdAt: number // ms since the epoch, from the caller's clock
  readonly scrypt?: { readonly N: number; readonly r: number; readonly p: number }
}

export const wrongPassphraseMessage = 'wrong passphrase or corrupted key file'

function passphraseBytes(passphrase: string, minLength: number): Uint8Array {
  if (typeof passphrase !== 'string' || [...passphrase].length < minLength) {
    throw new ZixtError(ErrorCode.invalidArgument, `passphrase: expected at least ${minLength} characters`)
  }
  // NFC so the same passphrase typed on different systems gives the same bytes.
  const bytes = utf8Encode(passphrase.normalize('NFC'))
  if (bytes.length > limits.keyFilePassphraseBytesMax) {
    throw new ZixtError(ErrorCode.limitExceeded, `passphrase: longer than ${limits.keyFilePassphraseBytesMax} bytes`)
  }
  return bytes
}

/** Everything but the ciphertext, canonically encoded: the AEAD's associated data. */
function associatedData(file: Omit<KeyFile, 'ciphertext'>): Uint8Array {
  const { format, version, kdf, cipher, publicKeys, fingerprints, username, createdAt } = file
  return encode({ format, version, kdf, cipher, publicKeys, fingerprints, username, createdAt })
}

async function deriveKey(passphrase: Uint8Array, kdf: KeyFile['kdf'], crypto: CryptoFacade): Promise<Uint8Array> {
  const salt = fromBase64url(kdf.salt, 'kdf.salt')
  return crypto.scrypt(passphrase, salt, { N: kdf.N, r: kdf.r, p: kdf.p, dkLen: KEY_BYTES })
}

export async function sealKeyFile(keys: KeyFileKeys, passphrase: string, crypto: CryptoFacade, params: SealParams): Promise<KeyFile> {
  checkLength('identity.publicKey', keys.identity.publicKey, slhDsaShake256fSizes.publicKeyBytes)
  checkLength('identity.secretKey', keys.identity.secretKey, slhDsaShake256fSizes.secretKeyBytes)
  checkLength('device.publicKey', keys.device.publicKey, mlDsa65Sizes.publicKeyBytes)
  checkLength('device.secretKey', keys.device.secretKey, mlDsa65Sizes.secretKeyBytes)
  const password = passphraseBytes(passphrase, limits.keyFilePassphraseLengthMin)
  const { N, r, p } = params.scrypt ?? defaultKeyFileScrypt
  const header: Omit<KeyFile, 'ciphertext'> = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    kdf: { name: 'scrypt', N, r, p, salt: toBase64url(crypto.randomBytes(SALT_BYTES)) },
    cipher: { name: 'AES-256-GCM', nonce: toBase64url(crypto.randomBytes(crypto.aes256gcm.nonceBytes)) },
    publicKeys: { identity: toBase64url(keys.identity.publicKey), device: toBase64url(keys.device.publicKey) },
    fingerprints: { identity: fingerprint(keys.identity.publicKey, crypto), device: fingerprint(keys.device.publicKey, crypto) },
    username: keys.username,
    createdAt: new Date(params.createdAt).toISOString(),
  }
  checkHeader(header) // the same bounds openKeyFile enforces: never write a file we would refuse
  const key = await deriveKey(password, header.kdf, crypto)
  const plaintext = encode({
    identitySecretKey: keys.identity.secretKey,
    deviceSecretKey: keys.device.secretKey,
    userId: keys.userId,
    deviceId: keys.deviceId,
  })
  const sealed = crypto.aes256gcm.encrypt(key, fromBase64url(header.cipher.nonce), plaintext, associatedData(header))
  key.fill(0)
  plaintext.fill(0)
  return { ...header, ciphertext: toBase64url(sealed) }
}

/** New keys for a user and their first device; ids derived from the first keys. */
export function newUserKeys(crypto: CryptoFacade, username: string | null = null): KeyFileKeys {
  const identity = crypto.slhDsaShake256f.keygen()
  const device = crypto.mlDsa65.keygen()
  return { identity, device, userId: userIdFor(identity.publicKey, crypto), deviceId: deviceIdFor(device.publicKey, crypto), username }
}

export function keyFileToJson(file: KeyFile): string {
  return `${JSON.stringify(file, null, 2)}\n`
}

export async function openKeyFile(input: string | unknown, passphrase: string, crypto: CryptoFacade): Promise<KeyFileKeys> {
  const file = parseKeyFile(input)
  const password = passphraseBytes(passphrase, 1)
  const key = await deriveKey(password, file.kdf, crypto)
  let plaintext: Uint8Array
  try {
    const nonce = fromBase64url(file.cipher.nonce)
    plaintext = crypto.aes256gcm.decrypt(key, nonce, fromBase64url(file.ciphertext), associatedData(file))
  } catch (e) {
    if (!(e instanceof CryptoError && e.code === ErrorCode.decryptFailed)) throw e
    throw new CryptoError(ErrorCode.decryptFailed, wrongPassphraseMessage)
  } finally {
    key.fill(0)
  }
  try {
    return secretsFromPlaintext(file, plaintext, crypto)
  } finally {
    plaintext.fill(0)
  }
}

function corrupt(why: string): ZixtError {
  return new ZixtError(ErrorCode.corrupt, `keyFile: ${why}`)
}

function secretsFromPlaintext(file: KeyFile, plaintext: Uint8Array, crypto: CryptoFacade): KeyFileKeys {
  let inner: { [key: string]: Value }
  try {
    inner = decode(plaintext) as { [key: string]: Value }
  } catch {
    throw corrupt('contents are not canonically encoded')
  }
  const { identitySecretKey, deviceSecretKey, userId, deviceId } = inner
  if (!(identitySecretKey instanceof Uint8Array) || identitySecretKey.length !== slhDsaShake256fSizes.secretKeyBytes) throw corrupt('bad identity secret key')
  if (!(deviceSecretKey instanceof Uint8Array) || deviceSecretKey.length !== mlDsa65Sizes.secretKeyBytes) throw corrupt('bad device secret key')
  if (typeof userId !== 'string' || typeof deviceId !== 'string' || Object.keys(inner).length !== 4) throw corrupt('bad contents')
  const identityPublicKey = fromBase64url(file.publicKeys.identity)
  const devicePublicKey = fromBase64url(file.publicKeys.device)
  if (file.fingerprints.identity !== fingerprint(identityPublicKey, crypto) || file.fingerprints.device !== fingerprint(devicePublicKey, crypto)) {
    throw corrupt('fingerprints do not match the public keys')
  }
  // FIPS 205 §9.1: SK = SK.seed||SK.prf||PK.seed||PK.root ends with PK; FIPS 204 Alg. 1: pk = f(xi).
  if (!equalBytes(identitySecretKey.subarray(64), identityPublicKey)) throw corrupt('identity secret key does not match its public key')
  if (!equalBytes(crypto.mlDsa65.keygen(deviceSecretKey).publicKey, devicePublicKey)) throw corrupt('device secret key does not match its public key')
  return {
    identity: { publicKey: identityPublicKey, secretKey: Uint8Array.from(identitySecretKey) },
    device: { publicKey: devicePublicKey, secretKey: Uint8Array.from(deviceSecretKey) },
    userId,
    deviceId,
    username: file.username,
  }
}

// ---------------------------------------------------------------------------------------
// Parsing: the file comes from the user's disk or an upload, so every field is checked
// (shape, bounds) before any work is spent on it; scrypt cost is bounded by limits.ts.

function schema(path: string, expected: string): ZixtError {
  return new ZixtError(ErrorCode.schema, `keyFile.${path}: expected ${expected}`, { field: path })
}

function record(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw schema(path || '(root)', 'an object')
  const actual = Object.keys(value)
  const extra = actual.find((k) => !keys.includes(k))
  if (extra !== undefined) throw schema(`${path}${path ? '.' : ''}${extra}`, 'no such field')
  const missing = keys.find((k) => !actual.includes(k))
  if (missing !== undefined) throw schema(`${path}${path ? '.' : ''}${missing}`, 'a value')
  return value as Record<string, unknown>
}

function bytesField(value: unknown, path: string, min: number, max: number = min): Uint8Array {
  if (typeof value !== 'string') throw schema(path, 'a base64url string')
  let bytes: Uint8Array
  try {
    bytes = fromBase64url(value, path)
  } catch {
    throw schema(path, 'canonical base64url')
  }
  if (bytes.length < min || bytes.length > max) throw schema(path, min === max ? `${min} bytes` : `${min} to ${max} bytes`)
  return bytes
}

function intField(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw schema(path, `an integer in [${min}, ${max}]`)
  }
  return value
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Bounds and encodings of every clear-text field. */
function checkHeader(h: Omit<KeyFile, 'ciphertext'>): void {
  if (h.kdf.name !== 'scrypt') throw schema('kdf.name', '"scrypt"')
  const N = intField(h.kdf.N, 'kdf.N', 2, 2 ** 30)
  if ((N & (N - 1)) !== 0) throw schema('kdf.N', 'a power of two')
  const r = intField(h.kdf.r, 'kdf.r', 1, 32)
  intField(h.kdf.p, 'kdf.p', 1, limits.keyFileScryptPMax)
  if (128 * r * N > limits.keyFileScryptMemoryBytesMax) throw schema('kdf', `scrypt memory 128·r·N ≤ ${limits.keyFileScryptMemoryBytesMax} bytes`)
  bytesField(h.kdf.salt, 'kdf.salt', SALT_BYTES, 64)
  if (h.cipher.name !== 'AES-256-GCM') throw schema('cipher.name', '"AES-256-GCM"')
  bytesField(h.cipher.nonce, 'cipher.nonce', 12)
  bytesField(h.publicKeys.identity, 'publicKeys.identity', slhDsaShake256fSizes.publicKeyBytes)
  bytesField(h.publicKeys.device, 'publicKeys.device', mlDsa65Sizes.publicKeyBytes)
  for (const k of ['identity', 'device'] as const) {
    if (typeof h.fingerprints[k] !== 'string' || h.fingerprints[k].length > 64) throw schema(`fingerprints.${k}`, 'a fingerprint string')
  }
  if (h.username !== null && (typeof h.username !== 'string' || h.username.length > limits.usernameLengthMax)) {
    throw schema('username', `null or a string of at most ${limits.usernameLengthMax} characters`)
  }
  if (typeof h.createdAt !== 'string' || !ISO_UTC.test(h.createdAt) || !Number.isFinite(Date.parse(h.createdAt))) {
    throw schema('createdAt', 'an ISO 8601 UTC time like 2025-01-31T12:00:00.000Z')
  }
}

/** A key file's clear-text part, checked; needs no passphrase (the browser shows fingerprints before asking). */
export function parseKeyFile(input: string | unknown): KeyFile {
  let value = input
  if (typeof input === 'string') {
    if (input.length > limits.keyFileBytesMax) throw new ZixtError(ErrorCode.limitExceeded, `keyFile: larger than ${limits.keyFileBytesMax} bytes`)
    try {
      value = JSON.parse(input)
    } catch {
      throw new ZixtError(ErrorCode.schema, 'keyFile: not JSON (not a Zixt key file)')
    }
  }
  const keys = ['format', 'version', 'kdf', 'cipher', 'ciphertext', 'publicKeys', 'fingerprints', 'username', 'createdAt']
  if (typeof value !== 'object' || value === null || (value as { format?: unknown }).format !== KEY_FILE_FORMAT) {
    throw schema('format', `"${KEY_FILE_FORMAT}" (not a Zixt key file)`)
  }
  const o = record(value, '', keys)
  if (o['version'] !== KEY_FILE_VERSION) throw schema('version', `${KEY_FILE_VERSION} (a file from a newer Zixt?)`)
  const file: KeyFile = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    kdf: record(o['kdf'], 'kdf', ['name', 'N', 'r', 'p', 'salt']) as KeyFile['kdf'],
    cipher: record(o['cipher'], 'cipher', ['name', 'nonce']) as KeyFile['cipher'],
    ciphertext: o['ciphertext'] as string,
    publicKeys: record(o['publicKeys'], 'publicKeys', ['identity', 'device']) as KeyFile['publicKeys'],
    fingerprints: record(o['fingerprints'], 'fingerprints', ['identity', 'device']) as KeyFile['fingerprints'],
    username: o['username'] as string | null,
    createdAt: o['createdAt'] as string,
  }
  checkHeader(file)
  bytesField(file.ciphertext, 'ciphertext', 16, 4096)
  return file
}
