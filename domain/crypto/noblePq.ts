// ML-DSA, SLH-DSA and ML-KEM on @noble/post-quantum: browser-safe (no node: imports here
// or in anything imported). Raw encodings as in params.ts, identical to nativePq.ts.
import { ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js'
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js'
import { slh_dsa_shake_256f } from '@noble/post-quantum/slh-dsa.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { CryptoError, ErrorCode } from '../errors.ts'
import { checkBytes, checkContext, checkLength, checkOwnSignature } from './check.ts'
import { KeyCache } from './keyCache.ts'
import { mlDsa65Sizes, mlDsa87Sizes, mlKem1024Sizes, slhDsaShake256fSizes } from './params.ts'
import type { Kem, KeyPair, Signer } from './types.ts'

/** Fresh randomness from the platform CSPRNG (Web Crypto), in getRandomValues' 64 KiB steps. */
export function platformRandomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + 65536)))
  return out
}

// Expanded secret keys (FIPS 204 skEncode, FIPS 203 dk) cached by a hash of their seed:
// expansion is a full keygen, slower than the signature itself in JS. Wiped on eviction.
const expanded = new KeyCache<Uint8Array>(32, (key) => key.fill(0))

/** Wipes and drops every cached expanded secret key (logout, key rotation). */
export function clearNobleKeyCache(): void {
  expanded.clear()
}

function expand(tag: string, seed: Uint8Array, keygen: (seed: Uint8Array) => { secretKey: Uint8Array }): Uint8Array {
  return expanded.getOrCreate(`${tag}:${bytesToHex(sha256(seed))}`, () => keygen(seed).secretKey)
}

type NobleDsa = typeof ml_dsa65 | typeof slh_dsa_shake_256f

type SignerSpec = {
  readonly name: Signer['name']
  readonly sizes: { publicKeyBytes: number; secretKeyBytes: number; signatureBytes: number; seedBytes: number }
  readonly dsa: NobleDsa
  /** Facade key pair from a seed, and the secret key in the form noble signs with. */
  readonly fromSeed: (seed: Uint8Array) => KeyPair
  readonly signingKey: (secretKey: Uint8Array) => Uint8Array
  /** SLH-DSA: the public key is the tail of the secret key; check each signature against it. */
  readonly verifyAfterSign?: boolean
}

function nobleSigner(spec: SignerSpec): Signer {
  const { sizes, dsa } = spec
  const signer: Signer = {
    name: spec.name,
    ...sizes,
    keygen(seed) {
      const s = seed === undefined ? platformRandomBytes(sizes.seedBytes) : checkLength('seed', seed, sizes.seedBytes)
      return spec.fromSeed(s)
    },
    // FIPS 204 Alg. 2 ML-DSA.Sign / FIPS 205 Alg. 22 slh_sign: pure, hedged, with ctx.
    sign(secretKey, message, context) {
      checkLength('secretKey', secretKey, sizes.secretKeyBytes)
      checkBytes('message', message)
      const ctx = checkContext(context)
      const signature = dsa.sign(message, spec.signingKey(secretKey), { context: ctx })
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
      try {
        return dsa.verify(signature, message, publicKey, { context: ctx })
      } catch {
        return false // a malformed signature encoding is a failed verification
      }
    },
  }
  return signer
}

function mlDsa(name: 'ML-DSA-65' | 'ML-DSA-87', dsa: typeof ml_dsa65, sizes: SignerSpec['sizes']): Signer {
  return nobleSigner({
    name,
    sizes,
    dsa,
    // FIPS 204 Alg. 1: the key pair is a function of xi; the facade's secret key is xi itself.
    fromSeed: (seed) => ({ publicKey: dsa.keygen(seed).publicKey, secretKey: Uint8Array.from(seed) }),
    signingKey: (secretKey) => expand(name, secretKey, dsa.keygen),
  })
}

export const nobleMlDsa65 = mlDsa('ML-DSA-65', ml_dsa65, mlDsa65Sizes)
export const nobleMlDsa87 = mlDsa('ML-DSA-87', ml_dsa87, mlDsa87Sizes)

export const nobleSlhDsaShake256f = nobleSigner({
  name: 'SLH-DSA-SHAKE-256f',
  sizes: slhDsaShake256fSizes,
  dsa: slh_dsa_shake_256f,
  fromSeed: (seed) => slh_dsa_shake_256f.keygen(seed), // FIPS 205 Alg. 18, seed = SK.seed||SK.prf||PK.seed
  signingKey: (secretKey) => secretKey,
  verifyAfterSign: true,
})

const ML_KEM_Q = 3329
const ML_KEM_K = 4

/**
 * FIPS 203 §7.2 step 2 (modulus check): ByteEncode12(ByteDecode12(ek[0:384k])) = ek[0:384k],
 * i.e. every 12-bit coefficient of t̂ is below q. Done here because @noble/post-quantum 0.5.2's
 * own check is a no-op (its 12-bit decoder does not reduce mod q, so the round trip always
 * matches) and it accepts the Wycheproof/ACVP "not reduced" keys that OpenSSL refuses.
 */
function mlKemModulusCheck(publicKey: Uint8Array): boolean {
  const end = 384 * ML_KEM_K
  for (let i = 0; i < end; i += 3) {
    const b0 = publicKey[i]!
    const b1 = publicKey[i + 1]!
    const b2 = publicKey[i + 2]!
    if ((b0 | ((b1 & 0x0f) << 8)) >= ML_KEM_Q) return false
    if (((b1 >> 4) | (b2 << 4)) >= ML_KEM_Q) return false
  }
  return true
}

export const nobleMlKem1024: Kem = {
  name: 'ML-KEM-1024',
  ...mlKem1024Sizes,
  // FIPS 203 Alg. 19 ML-KEM.KeyGen from d||z; the facade's secret key is the seed.
  keygen(seed) {
    const s = seed === undefined ? platformRandomBytes(64) : checkLength('seed', seed, mlKem1024Sizes.secretKeyBytes)
    return { publicKey: ml_kem1024.keygen(s).publicKey, secretKey: Uint8Array.from(s) }
  },
  // FIPS 203 Alg. 20 ML-KEM.Encaps after the §7.2 encapsulation key check.
  encapsulate(publicKey) {
    checkLength('publicKey', publicKey, mlKem1024Sizes.publicKeyBytes)
    if (!mlKemModulusCheck(publicKey)) {
      throw new CryptoError(
        ErrorCode.invalidArgument,
        'publicKey: not a valid ml-kem-1024 public key (FIPS 203 §7.2 modulus check failed)',
        { argument: 'publicKey' },
      )
    }
    return ml_kem1024.encapsulate(publicKey, platformRandomBytes(32))
  },
  // FIPS 203 Alg. 21 ML-KEM.Decaps: a modified ciphertext yields the implicit-rejection key.
  decapsulate(cipherText, secretKey) {
    checkLength('cipherText', cipherText, mlKem1024Sizes.cipherTextBytes)
    checkLength('secretKey', secretKey, mlKem1024Sizes.secretKeyBytes)
    return ml_kem1024.decapsulate(cipherText, expand('ML-KEM-1024', secretKey, ml_kem1024.keygen))
  },
}
