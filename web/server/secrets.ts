// Server-side secrets: scrypt password verifiers, the per-user e-mail data key (AES-256-GCM),
// RFC 6238 TOTP and backup codes. All crypto goes through the facade.
import type { CryptoFacade } from '../../domain/crypto/types.ts'
import { fromBase64url, toBase64url, utf8Decode, utf8Encode } from '../../domain/encoding.ts'

export type ScryptCost = { readonly N: number; readonly r: number; readonly p: number }
/** OWASP floor: N = 2^17, r = 8, p = 1 (128 MiB, ~0.4 s native). Tests may pass a lower cost. */
export const defaultPasswordCost: ScryptCost = { N: 2 ** 17, r: 8, p: 1 }
export const passwordLengthMin = 10
export const passwordLengthMax = 1024

export type Verifier = { readonly salt: Uint8Array; readonly hash: Uint8Array; readonly cost: ScryptCost }

export async function makeVerifier(password: string, cost: ScryptCost, crypto: CryptoFacade): Promise<Verifier> {
  const salt = crypto.randomBytes(16)
  const hash = await crypto.scrypt(utf8Encode(password.normalize('NFC')), salt, { ...cost, dkLen: 32 })
  return { salt, hash, cost }
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

/** Same work whether or not the account exists (no timing oracle): pass null for an unknown user. */
export async function checkPassword(password: string, verifier: Verifier | null, cost: ScryptCost, crypto: CryptoFacade): Promise<boolean> {
  const v = verifier ?? { salt: new Uint8Array(16), hash: new Uint8Array(32), cost }
  const hash = await crypto.scrypt(utf8Encode(password.normalize('NFC')), v.salt, { ...v.cost, dkLen: 32 })
  return constantTimeEqual(hash, v.hash) && verifier !== null
}

const EMAIL_AAD = utf8Encode('zixt/email/v1')

/** base64url(nonce ‖ AES-256-GCM(dataKey, nonce, email, aad 'zixt/email/v1')). */
export function encryptEmail(dataKey: Uint8Array, email: string, crypto: CryptoFacade): string {
  const nonce = crypto.randomBytes(12)
  const sealed = crypto.aes256gcm.encrypt(dataKey, nonce, utf8Encode(email), EMAIL_AAD)
  const out = new Uint8Array(12 + sealed.length)
  out.set(nonce)
  out.set(sealed, 12)
  return toBase64url(out)
}

export function decryptEmail(dataKey: Uint8Array, encryptedEmail: string, crypto: CryptoFacade): string {
  const bytes = fromBase64url(encryptedEmail, 'encryptedEmail')
  return utf8Decode(crypto.aes256gcm.decrypt(dataKey, bytes.subarray(0, 12), bytes.subarray(12), EMAIL_AAD))
}

export function emailHash(encryptedEmail: string, crypto: CryptoFacade): string {
  return toBase64url(crypto.sha3_256(fromBase64url(encryptedEmail, 'encryptedEmail')))
}

// --- RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s) -----------------------------------------

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31]
  return out
}

/** RFC 4226 §5.3 HOTP with the RFC 6238 hash choice; `digits` 6–8. */
export function hotp(secret: Uint8Array, counter: number, crypto: CryptoFacade, digits = 6, hash: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const msg = new Uint8Array(8)
  let c = counter
  for (let i = 7; i >= 0; i--) {
    msg[i] = c & 0xff
    c = Math.floor(c / 256)
  }
  const mac = crypto.hmac(hash, secret, msg)
  const offset = mac[mac.length - 1]! & 0x0f
  const bin = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!
  return String(bin % 10 ** digits).padStart(digits, '0')
}

export const totpStepS = 30

export function totpAt(secret: Uint8Array, timeMs: number, crypto: CryptoFacade, digits = 6, hash: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  return hotp(secret, Math.floor(timeMs / 1000 / totpStepS), crypto, digits, hash)
}

/** The step (counter) the code matches within ±1 step of now, after lastStep (each step once), else null. */
export function matchTotp(secret: Uint8Array, code: string, nowMs: number, lastStep: number, crypto: CryptoFacade): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const step = Math.floor(nowMs / 1000 / totpStepS)
  for (const s of [step - 1, step, step + 1]) {
    if (s > lastStep && constantTimeEqual(utf8Encode(hotp(secret, s, crypto)), utf8Encode(code))) return s
  }
  return null
}

// --- backup codes ----------------------------------------------------------------------

export function newBackupCodes(count: number, crypto: CryptoFacade): string[] {
  return Array.from({ length: count }, () => base32Encode(crypto.randomBytes(7)).slice(0, 10))
}

export function backupCodeHash(userId: string, code: string, crypto: CryptoFacade): Uint8Array {
  return crypto.sha256(utf8Encode(`zixt/backup-code/v1|${userId}|${code.toUpperCase().replace(/[\s-]/g, '')}`))
}

/** SHA3-256 over the sorted code hashes: what SetBackupCodes commits to in the ledger. */
export function backupCommitment(hashes: readonly Uint8Array[], crypto: CryptoFacade): string {
  const sorted = [...hashes].map((h) => toBase64url(h)).sort()
  return toBase64url(crypto.sha3_256(utf8Encode(sorted.join('.'))))
}
