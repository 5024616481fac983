// Attachments: encrypted in the browser with a fresh AES-256-GCM key per file. The
// server stores the ciphertext blob under blobId = hex SHA-256(blob); the key, nonce,
// name and type travel only inside the MLS application message (content.ts).
import type { CryptoFacade } from '../../../../domain/crypto/types.ts'
import { toHex } from '../../../../domain/encoding.ts'
import { ZixtError, ErrorCode } from '../../../../domain/errors.ts'
import { limits } from '../../../../domain/limits.ts'
import { detectFileType, mimeOf, type AttachmentType } from './fileType.ts'

export const AttachmentErrorCode = {
  tooLarge: ErrorCode.limitExceeded,
  typeMismatch: 'ZIXT_ERR_ATTACHMENT_TYPE_MISMATCH', // content is not what was declared
  typeUnsupported: 'ZIXT_ERR_ATTACHMENT_TYPE_UNSUPPORTED', // content is none of the allowed types
  blobMismatch: 'ZIXT_ERR_ATTACHMENT_BLOB_MISMATCH', // blob is not the one referenced (hash or size)
  decryptFailed: ErrorCode.decryptFailed,
  invalidArgument: ErrorCode.invalidArgument,
} as const

export class AttachmentError extends ZixtError {
  override name = 'AttachmentError'
}

const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Binds the ciphertext to its purpose; the key is fresh per file, so nothing else is needed. */
const AAD = new TextEncoder().encode('zixt/attachment/v1')

/** What the sender puts in the MLS message so members can fetch and open the blob. */
export type AttachmentRef = {
  readonly name: string
  readonly mime: string
  readonly type: AttachmentType
  readonly blobId: string // lower-case hex SHA-256 of the blob
  readonly key: Uint8Array // 32 bytes, AES-256-GCM
  readonly nonce: Uint8Array // 12 bytes
  readonly size: number // plaintext bytes
}

export type EncryptedAttachment = {
  readonly blob: Uint8Array // ciphertext || tag: what is uploaded
  readonly blobId: string
  readonly ref: AttachmentRef
}

/** Ciphertext size of a blob for `size` plaintext bytes (the PostMessage ciphertextBytes). */
export function blobBytesFor(size: number): number {
  return size + TAG_BYTES
}

/**
 * Encrypts a file. The 15 MiB limit is checked first, before any crypto runs; the
 * content must be of the declared type (the receiver checks again).
 */
export function encryptAttachment(crypto: CryptoFacade, file: { readonly bytes: Uint8Array; readonly name: string; readonly type: AttachmentType }): EncryptedAttachment {
  const { bytes, name, type } = file
  if (bytes.length > limits.attachmentPlainBytesMax) {
    throw new AttachmentError(AttachmentErrorCode.tooLarge, `file of ${bytes.length} bytes exceeds ${limits.attachmentPlainBytesMax}`, { size: bytes.length })
  }
  const detected = detectFileType(bytes)
  if (detected === undefined) throw new AttachmentError(AttachmentErrorCode.typeUnsupported, `file "${name}" is none of ${Object.keys(mimeOf).join(', ')}`)
  if (detected !== type) throw new AttachmentError(AttachmentErrorCode.typeMismatch, `file "${name}" is declared ${type} but its content is ${detected}`, { declared: type, detected })
  const key = crypto.randomBytes(KEY_BYTES)
  const nonce = crypto.randomBytes(NONCE_BYTES)
  const blob = crypto.aes256gcm.encrypt(key, nonce, bytes, AAD)
  const blobId = toHex(crypto.sha256(blob))
  return { blob, blobId, ref: { name, mime: mimeOf[type], type, blobId, key, nonce, size: bytes.length } }
}

export type DecryptedAttachment = { readonly bytes: Uint8Array; readonly type: AttachmentType; readonly mime: string }

/**
 * Opens a downloaded blob: it must be the referenced one (size, SHA-256), decrypt and
 * authenticate under the ref's key, and its content must be of the declared type.
 */
export function decryptAttachment(crypto: CryptoFacade, blob: Uint8Array, ref: AttachmentRef): DecryptedAttachment {
  if (ref.key.length !== KEY_BYTES || ref.nonce.length !== NONCE_BYTES) {
    throw new AttachmentError(AttachmentErrorCode.invalidArgument, 'attachment key must be 32 bytes and nonce 12 bytes')
  }
  if (blob.length !== blobBytesFor(ref.size) || ref.size > limits.attachmentPlainBytesMax) {
    throw new AttachmentError(AttachmentErrorCode.blobMismatch, `blob of ${blob.length} bytes does not fit size ${ref.size}`)
  }
  if (toHex(crypto.sha256(blob)) !== ref.blobId) throw new AttachmentError(AttachmentErrorCode.blobMismatch, `blob does not hash to ${ref.blobId}`)
  let bytes: Uint8Array
  try {
    bytes = crypto.aes256gcm.decrypt(ref.key, ref.nonce, blob, AAD)
  } catch (e) {
    throw new AttachmentError(AttachmentErrorCode.decryptFailed, `attachment "${ref.name}" does not decrypt`, { cause: e instanceof Error ? e.message : String(e) })
  }
  const detected = detectFileType(bytes)
  if (detected === undefined) throw new AttachmentError(AttachmentErrorCode.typeUnsupported, `attachment "${ref.name}" is none of the allowed types`)
  if (detected !== ref.type) {
    throw new AttachmentError(AttachmentErrorCode.typeMismatch, `attachment "${ref.name}" is declared ${ref.type} but its content is ${detected}`, { declared: ref.type, detected })
  }
  return { bytes, type: detected, mime: mimeOf[detected] }
}
