// node:crypto KeyObjects for the raw key encodings of the facade, imported once and kept
// in a bounded LRU (import costs ~0.25 ms for an ML-DSA seed, a quarter of a signature).
// Server-only: this file and its importers must never reach the browser bundle.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { CryptoError, ErrorCode } from '../errors.ts'
import { KeyCache } from './keyCache.ts'

export type PqKeyType = 'ml-dsa-65' | 'ml-dsa-87' | 'slh-dsa-shake-256f' | 'ml-kem-1024'
export type SecretFormat = 'raw-seed' | 'raw-private'

const publicKeys = new KeyCache<KeyObject>(256)
const privateKeys = new KeyCache<KeyObject>(64)

/** A Buffer view over the same bytes (node:crypto's raw key import wants a Buffer). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A plain Uint8Array copy: never hand out views of Node's shared Buffer pool. */
export function toBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes.slice(0)) : new Uint8Array(bytes)
}

function cacheId(type: PqKeyType, bytes: Uint8Array): string {
  return `${type}:${createHash('sha256').update(bytes).digest('base64')}`
}

/** Imports a raw public key; an encoding OpenSSL refuses becomes CryptoError(ZIXT_ERR_INVALID_ARGUMENT). */
export function publicKeyObject(type: PqKeyType, raw: Uint8Array, why: string): KeyObject {
  return publicKeys.getOrCreate(cacheId(type, raw), () => {
    try {
      return createPublicKey({ key: asBuffer(raw), format: 'raw-public', asymmetricKeyType: type })
    } catch {
      throw new CryptoError(ErrorCode.invalidArgument, `publicKey: not a valid ${type} public key (${why})`, {
        argument: 'publicKey',
      })
    }
  })
}

export function privateKeyObject(type: PqKeyType, format: SecretFormat, raw: Uint8Array): KeyObject {
  return privateKeys.getOrCreate(cacheId(type, raw), () => {
    try {
      return createPrivateKey({ key: asBuffer(raw), format, asymmetricKeyType: type })
    } catch {
      throw new CryptoError(ErrorCode.invalidArgument, `secretKey: not a valid ${type} secret key`, {
        argument: 'secretKey',
      })
    }
  })
}

export function exportPublic(key: KeyObject): Uint8Array {
  return toBytes(key.export({ format: 'raw-public' }))
}

export function exportSecret(key: KeyObject, format: SecretFormat): Uint8Array {
  return toBytes(key.export({ format }))
}

/** Drops every cached KeyObject (tests, key rotation). */
export function clearNativeKeyCache(): void {
  publicKeys.clear()
  privateKeys.clear()
}
