// Shared AES-256-GCM framing: sealed = ciphertext || 16-byte tag (SP 800-38D §7.2).
import { checkBytes, checkLength } from './check.ts'
import { CryptoError, ErrorCode } from '../errors.ts'
import { aes256gcmSizes } from './params.ts'

export const decryptFailedMessage = 'sealed: authentication failed (wrong key, nonce or associated data, or corrupted ciphertext)'

export function splitSealed(sealed: unknown): { cipherText: Uint8Array; tag: Uint8Array } {
  const bytes = checkBytes('sealed', sealed)
  if (bytes.length < aes256gcmSizes.tagBytes) {
    throw new CryptoError(
      ErrorCode.invalidLength,
      `sealed: expected at least ${aes256gcmSizes.tagBytes} bytes (the tag), got ${bytes.length}`,
      { argument: 'sealed' },
    )
  }
  const split = bytes.length - aes256gcmSizes.tagBytes
  return { cipherText: bytes.subarray(0, split), tag: bytes.subarray(split) }
}

/** SP 800-38D inputs both backends check first: a 256-bit key, a 96-bit nonce, bytes for AAD. */
export function checkAeadArgs(key: unknown, nonce: unknown, aad: unknown): void {
  checkLength('key', key, aes256gcmSizes.keyBytes)
  checkLength('nonce', nonce, aes256gcmSizes.nonceBytes)
  if (aad !== undefined) checkBytes('aad', aad)
}
