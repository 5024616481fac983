// The one MLS ciphersuite Zixt speaks (DESIGN "End-to-end encryption"):
// MLS_256_MLKEM1024_AES256GCM_SHA512_MLDSA87, id 0x0055.
//
// ts-mls does its own MLS crypto (the sanctioned exception to "crypto only through
// the facade"). Its default provider builds this suite from:
//   hash/HMAC/HKDF  WebCrypto SHA-512 (crypto.subtle) + @hpke/core HKDF-SHA512
//   HPKE KEM        @hpke/ml-kem MlKem1024 (pure JS, loaded by dynamic import)
//   HPKE AEAD       @hpke/core Aes256Gcm (WebCrypto)
//   signature       @noble/post-quantum ml_dsa87 (pure JS, loaded by dynamic import),
//                   pure ML-DSA with an empty context; secret keys in expanded form
//   randomness      crypto.getRandomValues
// Everything it touches exists in browsers and in Node ≥ 20 (globalThis.crypto), so
// this module has no `node:` imports.
import { getCiphersuiteFromName, getCiphersuiteImpl, type CiphersuiteImpl, type CiphersuiteName } from 'ts-mls'

export const MLS_SUITE_NAME: CiphersuiteName = 'MLS_256_MLKEM1024_AES256GCM_SHA512_MLDSA87'
export const MLS_SUITE_ID = 0x0055

/** Sizes fixed by the suite (FIPS 203/204), checked at the public entries. */
export const suiteSizes = {
  signaturePublicKeyBytes: 2592, // ML-DSA-87 pk
  signatureSecretKeyBytes: 4896, // ML-DSA-87 expanded sk (what @noble/post-quantum signs with)
  signatureBytes: 4627,
  hpkePublicKeyBytes: 1568, // ML-KEM-1024 ek
  hpkeSecretKeyBytes: 64, // ML-KEM-1024 seed d||z
} as const

let cached: Promise<CiphersuiteImpl> | undefined

/** The ciphersuite implementation, built once per process/page (it loads the PQ modules). */
export function mlsSuite(): Promise<CiphersuiteImpl> {
  cached ??= getCiphersuiteImpl(getCiphersuiteFromName(MLS_SUITE_NAME))
  return cached
}
