// One base error with a stable code. Messages name the bad field and value
// (never a secret). HTTP status mapping lives only in web/server/httpErrors.ts.
export const ErrorCode = {
  invalidArgument: 'ZIXT_ERR_INVALID_ARGUMENT',
  invalidLength: 'ZIXT_ERR_INVALID_LENGTH',
  decryptFailed: 'ZIXT_ERR_DECRYPT_FAILED',
  nonCanonical: 'ZIXT_ERR_NON_CANONICAL',
  limitExceeded: 'ZIXT_ERR_LIMIT_EXCEEDED',
  schema: 'ZIXT_ERR_SCHEMA',
  badSignature: 'ZIXT_ERR_BAD_SIGNATURE',
  corrupt: 'ZIXT_ERR_CORRUPT',
  notFound: 'ZIXT_ERR_NOT_FOUND',
  unavailable: 'ZIXT_ERR_UNAVAILABLE',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class ZixtError extends Error {
  override name = 'ZixtError'
  readonly code: string
  readonly details: Readonly<Record<string, unknown>>
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.code = code
    this.details = details
  }
}

export class CryptoError extends ZixtError {
  override name = 'CryptoError'
}

export class CodecError extends ZixtError {
  override name = 'CodecError'
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.nonCanonical, message, details)
  }
}
