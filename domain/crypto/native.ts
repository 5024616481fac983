// The server's crypto backend: node:crypto on OpenSSL 3.5 (Node 24). Same bytes as noble.ts.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hash,
  hkdfSync,
  randomBytes,
  scrypt,
} from 'node:crypto'
import { CryptoError, ErrorCode } from '../errors.ts'
import {
  checkBytes,
  checkHkdf,
  checkInteger,
  checkOneOf,
  checkScryptParams,
} from './check.ts'
import { checkAeadArgs, decryptFailedMessage, splitSealed } from './aead.ts'
import { toBytes } from './nativeKeys.ts'

export { clearNativeKeyCache } from './nativeKeys.ts'
import { nativeMlDsa65, nativeMlDsa87, nativeMlKem1024, nativeSlhDsaShake256f } from './nativePq.ts'
import { aes256gcmSizes, randomBytesMax } from './params.ts'
import type { Aead, CryptoFacade, HkdfHash, HmacHash } from './types.ts'

const opensslHash: Record<HkdfHash | HmacHash, string> = {
  sha1: 'sha1',
  sha256: 'sha256',
  sha512: 'sha512',
  sha3_256: 'sha3-256',
}

function digest(algorithm: string, data: Uint8Array): Uint8Array {
  checkBytes('data', data)
  return toBytes(hash(algorithm, data, 'buffer'))
}

// SP 800-38D GCM with a 96-bit IV and a 128-bit tag; output ciphertext || tag.
const aes256gcm: Aead = {
  name: 'AES-256-GCM',
  ...aes256gcmSizes,
  encrypt(key, nonce, plaintext, aad) {
    checkAeadArgs(key, nonce, aad)
    checkBytes('plaintext', plaintext)
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: aes256gcmSizes.tagBytes })
    if (aad !== undefined) cipher.setAAD(aad)
    const head = cipher.update(plaintext)
    const tail = cipher.final()
    const tag = cipher.getAuthTag()
    const out = new Uint8Array(head.length + tail.length + tag.length)
    out.set(head, 0)
    out.set(tail, head.length)
    out.set(tag, head.length + tail.length)
    return out
  },
  decrypt(key, nonce, sealed, aad) {
    checkAeadArgs(key, nonce, aad)
    const { cipherText, tag } = splitSealed(sealed)
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: aes256gcmSizes.tagBytes })
    decipher.setAuthTag(tag)
    if (aad !== undefined) decipher.setAAD(aad)
    const head = decipher.update(cipherText)
    try {
      const tail = decipher.final()
      if (tail.length === 0) return toBytes(head)
      const out = new Uint8Array(head.length + tail.length)
      out.set(head, 0)
      out.set(tail, head.length)
      return out
    } catch {
      head.fill(0) // unauthenticated plaintext never leaves
      throw new CryptoError(ErrorCode.decryptFailed, decryptFailedMessage, { argument: 'sealed' })
    }
  },
}

async function nativeScrypt(password: Uint8Array, salt: Uint8Array, params: unknown): Promise<Uint8Array> {
  checkBytes('password', password)
  checkBytes('salt', salt)
  const { N, r, p, dkLen } = checkScryptParams(params)
  // OpenSSL refuses when its estimate (≈128·r·(N+p) plus slack) exceeds maxmem; the
  // shared bound was checked above, so allow it plus headroom.
  const maxmem = 128 * r * (N + p) + 64 * 1024 * 1024
  return new Promise((resolve, reject) => {
    scrypt(password, salt, dkLen, { N, r, p, maxmem }, (err, key) => {
      if (err !== null) reject(new CryptoError(ErrorCode.invalidArgument, `params: scrypt failed (${err.message})`))
      else resolve(toBytes(key))
    })
  })
}

export const nativeCrypto: CryptoFacade = {
  backend: 'native',
  mlKem1024: nativeMlKem1024,
  mlDsa65: nativeMlDsa65,
  mlDsa87: nativeMlDsa87,
  slhDsaShake256f: nativeSlhDsaShake256f,
  aes256gcm,
  sha256: (data) => digest('sha256', data),
  sha3_256: (data) => digest('sha3-256', data),
  sha3_512: (data) => digest('sha3-512', data),
  hmac(hashName, key, data) {
    const h = checkOneOf<HmacHash>('hash', hashName, ['sha1', 'sha256', 'sha512'])
    checkBytes('key', key)
    checkBytes('data', data)
    return toBytes(createHmac(opensslHash[h], key).update(data).digest())
  },
  hkdf(hashName, ikm, salt, info, length) {
    const h = checkHkdf(hashName, info, length)
    checkBytes('ikm', ikm)
    checkBytes('salt', salt)
    return toBytes(hkdfSync(opensslHash[h], ikm, salt, info, length))
  },
  hkdfSha3_256(ikm, salt, info, length) {
    return nativeCrypto.hkdf('sha3_256', ikm, salt, info, length)
  },
  scrypt: nativeScrypt,
  randomBytes(length) {
    checkInteger('length', length, 0, randomBytesMax)
    return toBytes(randomBytes(length))
  },
}
