// ML-DSA, SLH-DSA and ML-KEM on node:crypto (OpenSSL 3.5). Raw encodings as in params.ts.
import { createPublicKey, decapsulate, encapsulate, generateKeyPairSync, sign, verify } from 'node:crypto'
import { slh_dsa_shake_256f } from '@noble/post-quantum/slh-dsa.js'
import { checkBytes, checkContext, checkLength, checkOwnSignature } from './check.ts'
import {
  exportPublic,
  exportSecret,
  privateKeyObject,
  publicKeyObject,
  toBytes,
  type PqKeyType,
  type SecretFormat,
} from './nativeKeys.ts'
import { mlDsa65Sizes, mlDsa87Sizes, mlKem1024Sizes, slhDsaShake256fSizes } from './params.ts'
import type { Kem, KeyPair, Signer } from './types.ts'

type SignerSpec = {
  readonly name: Signer['name']
  readonly type: Exclude<PqKeyType, 'ml-kem-1024'>
  readonly secretFormat: SecretFormat
  readonly sizes: { publicKeyBytes: number; secretKeyBytes: number; signatureBytes: number; seedBytes: number }
  readonly keygenFromSeed: (seed: Uint8Array) => KeyPair
  /** SLH-DSA: the public key is the tail of the secret key; check each signature against it. */
  readonly verifyAfterSign?: boolean
}

function randomKeyPair(type: PqKeyType, secretFormat: SecretFormat): KeyPair {
  // The overloads of generateKeyPairSync are per literal type; all four take no options.
  const { publicKey, privateKey } = generateKeyPairSync(type as 'ml-dsa-65')
  return { publicKey: exportPublic(publicKey), secretKey: exportSecret(privateKey, secretFormat) }
}

/** Keys from a seed that node:crypto imports as 'raw-seed' (ML-DSA xi, ML-KEM d||z). */
function keygenFromRawSeed(type: PqKeyType): (seed: Uint8Array) => KeyPair {
  return (seed) => {
    const privateKey = privateKeyObject(type, 'raw-seed', seed)
    return { publicKey: exportPublic(createPublicKey(privateKey)), secretKey: Uint8Array.from(seed) }
  }
}

/**
 * FIPS 205 Alg. 18 slh_keygen_internal. OpenSSL computes PK.root only inside its own random
 * keygen and node:crypto exposes no seeded SLH-DSA keygen (importing a 128-byte key with a
 * wrong PK.root is accepted silently), so the seeded path computes the key with
 * @noble/post-quantum; everything else on this key uses OpenSSL.
 */
function slhKeygenFromSeed(seed: Uint8Array): KeyPair {
  const { publicKey, secretKey } = slh_dsa_shake_256f.keygen(seed)
  return { publicKey: Uint8Array.from(publicKey), secretKey: Uint8Array.from(secretKey) }
}

/**
 * node:crypto's sign() and verify() given { key, context } first probe that object as a
 * KeyObject and as a CryptoKey, and each failed probe throws and catches a TypeError inside
 * Node: capturing their stack traces cost ≈ 9 µs a call (Node 24.21; a signature that
 * fails at once 13.4 → 4.8 µs, a full ML-DSA-65 verify 167 → 158 µs). The call runs with
 * stack traces off; an error it throws still has its message and code.
 */
function withoutStackTraces<T>(call: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return call()
  } finally {
    Error.stackTraceLimit = limit
  }
}

function nativeSigner(spec: SignerSpec): Signer {
  const { sizes, type } = spec
  const signer: Signer = {
    name: spec.name,
    ...sizes,
    keygen(seed) {
      if (seed === undefined) return randomKeyPair(type, spec.secretFormat)
      return spec.keygenFromSeed(checkLength('seed', seed, sizes.seedBytes))
    },
    // FIPS 204 Alg. 2 ML-DSA.Sign / FIPS 205 Alg. 22 slh_sign: pure, hedged, with ctx.
    sign(secretKey, message, context) {
      checkLength('secretKey', secretKey, sizes.secretKeyBytes)
      checkBytes('message', message)
      const ctx = checkContext(context)
      const key = privateKeyObject(type, spec.secretFormat, secretKey)
      const signature = toBytes(withoutStackTraces(() => sign(null, message, { key, context: ctx })))
      if (spec.verifyAfterSign) checkOwnSignature(signer.verify(secretKey.subarray(sizes.secretKeyBytes - sizes.publicKeyBytes), message, signature, ctx))
      return signature
    },
    // FIPS 204 Alg. 3 ML-DSA.Verify / FIPS 205 Alg. 24 slh_verify.
    verify(publicKey, message, signature, context) {
      checkLength('publicKey', publicKey, sizes.publicKeyBytes)
      checkBytes('message', message)
      checkBytes('signature', signature)
      const ctx = checkContext(context)
      if (signature.length !== sizes.signatureBytes) return false
      const key = publicKeyObject(type, publicKey, 'wrong encoding')
      try {
        return withoutStackTraces(() => verify(null, message, { key, context: ctx }, signature))
      } catch {
        return false // OpenSSL refusing a malformed signature is a failed verification
      }
    },
  }
  return signer
}

export const nativeMlDsa65 = nativeSigner({
  name: 'ML-DSA-65',
  type: 'ml-dsa-65',
  secretFormat: 'raw-seed',
  sizes: mlDsa65Sizes,
  keygenFromSeed: keygenFromRawSeed('ml-dsa-65'),
})

export const nativeMlDsa87 = nativeSigner({
  name: 'ML-DSA-87',
  type: 'ml-dsa-87',
  secretFormat: 'raw-seed',
  sizes: mlDsa87Sizes,
  keygenFromSeed: keygenFromRawSeed('ml-dsa-87'),
})

export const nativeSlhDsaShake256f = nativeSigner({
  name: 'SLH-DSA-SHAKE-256f',
  type: 'slh-dsa-shake-256f',
  secretFormat: 'raw-private',
  sizes: slhDsaShake256fSizes,
  keygenFromSeed: slhKeygenFromSeed,
  verifyAfterSign: true,
})

const kemFromSeed = keygenFromRawSeed('ml-kem-1024')

export const nativeMlKem1024: Kem = {
  name: 'ML-KEM-1024',
  ...mlKem1024Sizes,
  keygen(seed) {
    if (seed === undefined) return randomKeyPair('ml-kem-1024', 'raw-seed')
    return kemFromSeed(checkLength('seed', seed, mlKem1024Sizes.secretKeyBytes))
  },
  // FIPS 203 Alg. 20 ML-KEM.Encaps, after the §7.2 encapsulation key check (done on import).
  encapsulate(publicKey) {
    checkLength('publicKey', publicKey, mlKem1024Sizes.publicKeyBytes)
    const key = publicKeyObject('ml-kem-1024', publicKey, 'FIPS 203 §7.2 modulus check failed')
    const { sharedKey, ciphertext } = encapsulate(key)
    return { cipherText: toBytes(ciphertext), sharedSecret: toBytes(sharedKey) }
  },
  // FIPS 203 Alg. 21 ML-KEM.Decaps: a modified ciphertext yields the implicit-rejection key.
  decapsulate(cipherText, secretKey) {
    checkLength('cipherText', cipherText, mlKem1024Sizes.cipherTextBytes)
    checkLength('secretKey', secretKey, mlKem1024Sizes.secretKeyBytes)
    return toBytes(decapsulate(privateKeyObject('ml-kem-1024', 'raw-seed', secretKey), cipherText))
  },
}
