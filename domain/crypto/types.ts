// The crypto facade: the only way Zixt code reaches cryptography.
// Two backends implement it (native node:crypto for the server, @noble/* for the
// browser); raw key, signature and ciphertext bytes are identical across them.
//
// Secret keys are carried in their compact, standard-defined form so both
// backends can import them:
//   ML-KEM-1024  secret key = 64-byte seed d||z          (FIPS 203 §6.1, "raw-seed")
//   ML-DSA-65/87 secret key = 32-byte seed xi            (FIPS 204 Alg. 1, "raw-seed")
//   SLH-DSA-SHAKE-256f secret key = 128-byte SK.seed||SK.prf||PK.seed||PK.root (FIPS 205 §9.1)

export type KeyPair = { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }

export type Signer = {
  readonly name: 'ML-DSA-65' | 'ML-DSA-87' | 'SLH-DSA-SHAKE-256f'
  readonly publicKeyBytes: number
  readonly secretKeyBytes: number
  readonly signatureBytes: number
  readonly seedBytes: number
  /** Deterministic from `seed` when given (length seedBytes), else fresh randomness. */
  keygen(seed?: Uint8Array): KeyPair
  /**
   * Pure FIPS 204/205 signing (hedged: fresh randomness) with an optional context string
   * (≤ 255 bytes; absent = empty). SLH-DSA signatures are checked against the key before
   * they are returned (verify-after-sign).
   */
  sign(secretKey: Uint8Array, message: Uint8Array, context?: Uint8Array): Uint8Array
  /** false for any invalid signature (including a wrong length); throws CryptoError only for malformed keys/context. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context?: Uint8Array): boolean
}

export type Kem = {
  readonly name: 'ML-KEM-1024'
  readonly publicKeyBytes: number
  readonly secretKeyBytes: number
  readonly cipherTextBytes: number
  readonly sharedSecretBytes: number
  keygen(seed?: Uint8Array): KeyPair
  /** Throws CryptoError(ZIXT_ERR_INVALID_ARGUMENT) for a key failing the FIPS 203 §7.2 modulus check. */
  encapsulate(publicKey: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array }
  /**
   * A well-sized but modified ciphertext returns the implicit-rejection key J(z||c) (FIPS 203
   * Alg. 18), not an error: the caller learns nothing. A wrong-length ciphertext throws.
   */
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array
}

export type Aead = {
  readonly name: 'AES-256-GCM'
  readonly keyBytes: 32
  readonly nonceBytes: 12
  readonly tagBytes: 16
  /** Returns ciphertext || tag. */
  encrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array
  /** Throws CryptoError(ZIXT_ERR_DECRYPT_FAILED) on any authentication failure. */
  decrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array
}

export type ScryptParams = { readonly N: number; readonly r: number; readonly p: number; readonly dkLen: number }

export type HmacHash = 'sha1' | 'sha256' | 'sha512'
export type HkdfHash = 'sha256' | 'sha512' | 'sha3_256'

export type CryptoFacade = {
  readonly backend: 'native' | 'noble'
  readonly mlKem1024: Kem
  readonly mlDsa65: Signer
  readonly mlDsa87: Signer
  readonly slhDsaShake256f: Signer
  readonly aes256gcm: Aead
  sha256(data: Uint8Array): Uint8Array
  sha3_256(data: Uint8Array): Uint8Array
  sha3_512(data: Uint8Array): Uint8Array
  /** HMAC for RFC 4226/6238 one-time passwords (SHA-1 is what authenticator apps use). */
  hmac(hash: HmacHash, key: Uint8Array, data: Uint8Array): Uint8Array
  /** RFC 5869 HKDF-Extract-then-Expand; length ≤ 255·HashLen. */
  hkdf(hash: HkdfHash, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array
  /** hkdf('sha3_256', …): the KDF Zixt uses for its own key derivations. */
  hkdfSha3_256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array
  scrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array>
  randomBytes(length: number): Uint8Array
}
