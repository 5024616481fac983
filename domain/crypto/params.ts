// Sizes of the standard encodings the facade exchanges, identical in both backends.
// Secret keys are the compact forms of domain/crypto/types.ts (seeds; SLH-DSA's 4n-byte key).

/** FIPS 203 §8 Table 3, ML-KEM-1024: ek = 384k+32, c = 32(du·k+dv); secret = seed d||z (§6.1). */
export const mlKem1024Sizes = {
  publicKeyBytes: 1568,
  secretKeyBytes: 64,
  cipherTextBytes: 1568,
  sharedSecretBytes: 32,
} as const

/** FIPS 204 §4 Table 2; the secret key is the 32-byte seed xi of Alg. 1 (ML-DSA.KeyGen). */
export const mlDsa65Sizes = { publicKeyBytes: 1952, secretKeyBytes: 32, signatureBytes: 3309, seedBytes: 32 } as const
export const mlDsa87Sizes = { publicKeyBytes: 2592, secretKeyBytes: 32, signatureBytes: 4627, seedBytes: 32 } as const

/**
 * FIPS 205 §11 Table 2, SLH-DSA-SHAKE-256f (n = 32): PK = PK.seed||PK.root (2n),
 * SK = SK.seed||SK.prf||PK.seed||PK.root (4n), signature 49856 bytes. The keygen seed is
 * SK.seed||SK.prf||PK.seed (3n), the inputs of slh_keygen_internal (Alg. 18).
 */
export const slhDsaShake256fSizes = {
  publicKeyBytes: 64,
  secretKeyBytes: 128,
  signatureBytes: 49856,
  seedBytes: 96,
} as const

/** FIPS 204 Alg. 2 / FIPS 205 Alg. 22: ctx is at most 255 bytes. */
export const signatureContextBytesMax = 255

/** SP 800-38D with a 96-bit IV and a full 128-bit tag; the only AES-GCM shape Zixt accepts. */
export const aes256gcmSizes = { keyBytes: 32, nonceBytes: 12, tagBytes: 16 } as const

/** RFC 5869 §2.3: L <= 255·HashLen. */
export const hashOutputBytes = { sha1: 20, sha256: 32, sha512: 64, sha3_256: 32 } as const

/** Bounds on what randomBytes may be asked for in one call (a bug, not input, if exceeded). */
export const randomBytesMax = 1024 * 1024

/**
 * scrypt bounds (RFC 7914 §2): N a power of two; memory 128·r·N bytes per lane. The cap keeps
 * a hostile key file from exhausting memory and keeps both backends' limits identical.
 */
export const scryptBounds = {
  logNMax: 20,
  rMax: 32,
  pMax: 16,
  dkLenMax: 1024,
  memoryBytesMax: 1024 * 1024 * 1024,
} as const

/** node:crypto's hkdfSync refuses info longer than 1024 bytes; both backends share that bound. */
export const hkdfInfoBytesMax = 1024
