// The browser's crypto backend: @noble/post-quantum, @noble/hashes, @noble/ciphers.
// Browser-safe: no node: imports here or in anything this file imports; randomness comes
// from globalThis.crypto.getRandomValues. Same bytes as native.ts.
import { gcm } from '@noble/ciphers/aes.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha1 } from '@noble/hashes/legacy.js'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { sha3_256, sha3_512 } from '@noble/hashes/sha3.js'
import { CryptoError, ErrorCode } from '../errors.ts'
import { checkAeadArgs, decryptFailedMessage, splitSealed } from './aead.ts'
import { checkBytes, checkHkdf, checkInteger, checkOneOf, checkScryptParams } from './check.ts'
import { nobleMlDsa65, nobleMlDsa87, nobleMlKem1024, nobleSlhDsaShake256f, platformRandomBytes } from './noblePq.ts'

export { clearNobleKeyCache } from './noblePq.ts'
import { aes256gcmSizes, randomBytesMax } from './params.ts'
import type { Aead, CryptoFacade, HkdfHash, HmacHash } from './types.ts'

const hashes = { sha1, sha256, sha512, sha3_256 } as const

// SP 800-38D GCM with a 96-bit IV and a 128-bit tag; output ciphertext || tag.
const aes256gcm: Aead = {
  name: 'AES-256-GCM',
  ...aes256gcmSizes,
  encrypt(key, nonce, plaintext, aad) {
    checkAeadArgs(key, nonce, aad)
    checkBytes('plaintext', plaintext)
    return gcm(key, nonce, aad).encrypt(plaintext)
  },
  decrypt(key, nonce, sealed, aad) {
    checkAeadArgs(key, nonce, aad)
    splitSealed(sealed)
    try {
      return gcm(key, nonce, aad).decrypt(sealed)
    } catch {
      throw new CryptoError(ErrorCode.decryptFailed, decryptFailedMessage, { argument: 'sealed' })
    }
  },
}

async function nobleScrypt(password: Uint8Array, salt: Uint8Array, params: unknown): Promise<Uint8Array> {
  checkBytes('password', password)
  checkBytes('salt', salt)
  const { N, r, p, dkLen } = checkScryptParams(params)
  // noble's own cap is 128·r·(N+p); the shared bound was checked above.
  const maxmem = 128 * r * (N + p) + 1024
  return scryptAsync(password, salt, { N, r, p, dkLen, maxmem })
}

export const nobleCrypto: CryptoFacade = {
  backend: 'noble',
  mlKem1024: nobleMlKem1024,
  mlDsa65: nobleMlDsa65,
  mlDsa87: nobleMlDsa87,
  slhDsaShake256f: nobleSlhDsaShake256f,
  aes256gcm,
  sha256: (data) => sha256(checkBytes('data', data)),
  sha3_256: (data) => sha3_256(checkBytes('data', data)),
  sha3_512: (data) => sha3_512(checkBytes('data', data)),
  hmac(hashName, key, data) {
    const h = checkOneOf<HmacHash>('hash', hashName, ['sha1', 'sha256', 'sha512'])
    return hmac(hashes[h], checkBytes('key', key), checkBytes('data', data))
  },
  hkdf(hashName, ikm, salt, info, length) {
    const h: HkdfHash = checkHkdf(hashName, info, length)
    return hkdf(hashes[h], checkBytes('ikm', ikm), checkBytes('salt', salt), info, length)
  },
  hkdfSha3_256(ikm, salt, info, length) {
    return nobleCrypto.hkdf('sha3_256', ikm, salt, info, length)
  },
  scrypt: nobleScrypt,
  randomBytes(length) {
    checkInteger('length', length, 0, randomBytesMax)
    return platformRandomBytes(length)
  },
}
