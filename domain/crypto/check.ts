// Argument checks at every public entry of the facade (STYLE: check every input's length at
// the public entry). Bad input is a CryptoError naming the argument, never a library crash.
import { CryptoError, ErrorCode } from '../errors.ts'
import { hashOutputBytes, hkdfInfoBytesMax, scryptBounds, signatureContextBytesMax } from './params.ts'
import type { HkdfHash } from './types.ts'

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object'
  return typeof value
}

/** The value as a Uint8Array (Buffer is one), else CryptoError(ZIXT_ERR_INVALID_ARGUMENT). */
export function checkBytes(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  throw new CryptoError(ErrorCode.invalidArgument, `${name}: expected Uint8Array, got ${describe(value)}`, {
    argument: name,
  })
}

/** e.g. CryptoError(ZIXT_ERR_INVALID_LENGTH, "publicKey: expected 1952 bytes, got 10"). */
export function checkLength(name: string, value: unknown, expected: number): Uint8Array {
  const bytes = checkBytes(name, value)
  if (bytes.length !== expected) {
    throw new CryptoError(ErrorCode.invalidLength, `${name}: expected ${expected} bytes, got ${bytes.length}`, {
      argument: name,
      expected,
      actual: bytes.length,
    })
  }
  return bytes
}

export function checkLengthAtMost(name: string, value: unknown, max: number): Uint8Array {
  const bytes = checkBytes(name, value)
  if (bytes.length > max) {
    throw new CryptoError(ErrorCode.invalidLength, `${name}: expected at most ${max} bytes, got ${bytes.length}`, {
      argument: name,
      max,
      actual: bytes.length,
    })
  }
  return bytes
}

const EMPTY = new Uint8Array(0)

/** FIPS 204 Alg. 2 step 1 / FIPS 205 Alg. 22 step 1: |ctx| <= 255. Absent means empty. */
export function checkContext(context: unknown): Uint8Array {
  if (context === undefined) return EMPTY
  return checkLengthAtMost('context', context, signatureContextBytesMax)
}

/** An integer in [min, max], else CryptoError naming the argument. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new CryptoError(ErrorCode.invalidArgument, `${name}: expected an integer in [${min}, ${max}], got ${String(value)}`, {
      argument: name,
    })
  }
  return value
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T
  throw new CryptoError(ErrorCode.invalidArgument, `${name}: expected one of ${allowed.join(', ')}, got ${String(value)}`, {
    argument: name,
  })
}

/** Compares in time that depends only on the lengths (for MACs, tags, OTP codes). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** RFC 7914 §2 parameter rules plus the shared bounds of params.ts. */
export function checkScryptParams(params: unknown): { N: number; r: number; p: number; dkLen: number } {
  if (typeof params !== 'object' || params === null) {
    throw new CryptoError(ErrorCode.invalidArgument, `params: expected { N, r, p, dkLen }, got ${describe(params)}`, {
      argument: 'params',
    })
  }
  const { N, r, p, dkLen } = params as Record<string, unknown>
  const n = checkInteger('params.N', N, 2, 2 ** scryptBounds.logNMax)
  if ((n & (n - 1)) !== 0) {
    throw new CryptoError(ErrorCode.invalidArgument, `params.N: expected a power of two, got ${n}`, { argument: 'params.N' })
  }
  const rr = checkInteger('params.r', r, 1, scryptBounds.rMax)
  const pp = checkInteger('params.p', p, 1, scryptBounds.pMax)
  const len = checkInteger('params.dkLen', dkLen, 1, scryptBounds.dkLenMax)
  const memoryBytes = 128 * rr * (n + pp)
  if (memoryBytes > scryptBounds.memoryBytesMax) {
    throw new CryptoError(ErrorCode.limitExceeded, `params: scrypt would need ${memoryBytes} bytes, limit ${scryptBounds.memoryBytesMax}`, {
      argument: 'params',
    })
  }
  return { N: n, r: rr, p: pp, dkLen: len }
}

/** RFC 5869 §2.3: 1 <= L <= 255·HashLen; info bounded as params.ts says. */
export function checkHkdf(hash: unknown, info: unknown, length: unknown): HkdfHash {
  const h = checkOneOf<HkdfHash>('hash', hash, ['sha256', 'sha512', 'sha3_256'])
  checkLengthAtMost('info', info, hkdfInfoBytesMax)
  checkInteger('length', length, 1, 255 * hashOutputBytes[h])
  return h
}

/**
 * Verify-after-sign for SLH-DSA. FIPS 205 §9.1: SK = SK.seed||SK.prf||PK.seed||PK.root ends
 * with PK, so the signature can be checked against the key itself. This refuses a secret key
 * whose PK.root does not match its seeds (OpenSSL imports one silently and then signs
 * unverifiable signatures) and a signature corrupted by a fault while signing (Castelnovi,
 * Martinelli, Prest, "Grafting Trees", PQCrypto 2018). Costs one verify (~3% of a signature).
 */
export function checkOwnSignature(verified: boolean): void {
  if (!verified) {
    throw new CryptoError(
      ErrorCode.invalidArgument,
      'secretKey: the signature does not verify under the public key inside the secret key (corrupted key?)',
      { argument: 'secretKey' },
    )
  }
}
