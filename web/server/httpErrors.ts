// The one catalog of HTTP statuses: a function of the error code only (docs/api.md).
// Domain rejection codes pass through unchanged; web-only codes are listed here too.
import { ZixtError } from '../../domain/errors.ts'

export const WebError = {
  internal: 'ZIXT_ERR_INTERNAL',
  unauthenticated: 'ZIXT_ERR_UNAUTHENTICATED',
  loginFailed: 'ZIXT_ERR_LOGIN_FAILED',
  totpRequired: 'ZIXT_ERR_TOTP_REQUIRED',
  challengeInvalid: 'ZIXT_ERR_CHALLENGE_INVALID',
  csrf: 'ZIXT_ERR_CSRF',
  origin: 'ZIXT_ERR_ORIGIN',
  rateLimited: 'ZIXT_ERR_RATE_LIMITED',
  loginThrottled: 'ZIXT_ERR_LOGIN_THROTTLED',
  payloadTooLarge: 'ZIXT_ERR_PAYLOAD_TOO_LARGE',
  lengthRequired: 'ZIXT_ERR_LENGTH_REQUIRED',
  requestTimeout: 'ZIXT_ERR_REQUEST_TIMEOUT',
  unsupportedMediaType: 'ZIXT_ERR_UNSUPPORTED_MEDIA_TYPE',
  registrationExpired: 'ZIXT_ERR_REGISTRATION_EXPIRED',
  emailMismatch: 'ZIXT_ERR_EMAIL_MISMATCH',
  passwordWeak: 'ZIXT_ERR_PASSWORD_WEAK',
  verifyTokenInvalid: 'ZIXT_ERR_VERIFY_TOKEN_INVALID',
  alreadyVerified: 'ZIXT_ERR_ALREADY_VERIFIED',
  totpInvalid: 'ZIXT_ERR_TOTP_INVALID',
  totpEnabled: 'ZIXT_ERR_TOTP_ENABLED',
  noPendingTotp: 'ZIXT_ERR_NO_PENDING_TOTP',
  noPendingCodes: 'ZIXT_ERR_NO_PENDING_CODES',
  commitmentMismatch: 'ZIXT_ERR_COMMITMENT_MISMATCH',
  blobMismatch: 'ZIXT_ERR_BLOB_MISMATCH',
  blobNotFound: 'ZIXT_ERR_BLOB_NOT_FOUND',
} as const

const byStatus: Record<number, readonly string[]> = {
  400: [
    'SCHEMA', 'NON_CANONICAL', 'INVALID_ARGUMENT', 'INVALID_LENGTH', 'BAD_SIGNATURE', 'CLOCK_SKEW', 'BAD_CERTIFICATE', 'USER_ID_MISMATCH',
    'DEVICE_ID_MISMATCH', 'EMAIL_CHANGED', 'EMAIL_MISMATCH', 'POSITION_AHEAD', 'MLS_EPOCH_AHEAD', 'PASSWORD_WEAK', 'VERIFY_TOKEN_INVALID',
    'TOTP_INVALID', 'BLOB_MISMATCH', 'COMMITMENT_MISMATCH', 'DECRYPT_FAILED', 'CORRUPT',
  ],
  401: ['UNAUTHENTICATED', 'LOGIN_FAILED', 'TOTP_REQUIRED', 'CHALLENGE_INVALID'],
  403: [
    'CSRF', 'ORIGIN', 'WRONG_SIGNER', 'UNKNOWN_KEY', 'KEY_REVOKED', 'KEY_EXPIRED', 'USER_DISABLED', 'USER_DELETED', 'EMAIL_UNVERIFIED',
    'NOT_ADMIN', 'NOT_MEMBER', 'NOT_OWNER', 'NOT_MESSAGE_AUTHOR',
  ],
  404: [
    'NOT_FOUND', 'USER_NOT_FOUND', 'DEVICE_NOT_FOUND', 'THREAD_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'REPLICA_NOT_FOUND', 'NO_KEY_PACKAGE',
    'BLOB_NOT_FOUND', 'REGISTRATION_EXPIRED', 'NO_PENDING_TOTP', 'NO_PENDING_CODES',
  ],
  409: [
    'USER_EXISTS', 'USERNAME_TAKEN', 'DEVICE_EXISTS', 'DEVICE_REVOKED', 'THREAD_EXISTS', 'GROUP_EXISTS', 'ALREADY_MEMBER', 'DUPLICATE_COMMAND',
    'NO_CHANGE', 'MLS_EPOCH_TAKEN', 'KEY_PACKAGE_EXISTS', 'ADMIN_EXISTS', 'LAST_ADMIN', 'KEY_NOT_DUE', 'NOTHING_TO_DO', 'LIMIT_EXCEEDED',
    'ALREADY_VERIFIED', 'TOTP_ENABLED',
  ],
  408: ['REQUEST_TIMEOUT'],
  411: ['LENGTH_REQUIRED'],
  413: ['COMMAND_TOO_LARGE', 'PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  429: ['RATE_LIMITED', 'LOGIN_THROTTLED'],
  503: ['UNAVAILABLE'],
}

const statusOf = new Map<string, number>()
for (const [status, codes] of Object.entries(byStatus)) for (const c of codes) statusOf.set(`ZIXT_ERR_${c}`, Number(status))

export function httpStatus(code: string): number {
  return statusOf.get(code) ?? 500
}

export type ErrorBody = { readonly error: { readonly code: string; readonly message: string; readonly field?: string } }

/** Web-side failure with a stable code; the status comes from httpStatus(). */
export function webError(code: string, message: string, details: Record<string, unknown> = {}): ZixtError {
  return new ZixtError(code, message, details)
}

/** Maps anything thrown inside a route to { status, body, retryAfterS }. Unknown errors are 500 (a bug). */
export function toHttpError(e: unknown): { status: number; body: ErrorBody; retryAfterS?: number } {
  if (e instanceof ZixtError) {
    const field = typeof e.details['field'] === 'string' ? (e.details['field'] as string) : undefined
    const retry = typeof e.details['retryAfterS'] === 'number' ? (e.details['retryAfterS'] as number) : undefined
    const status = httpStatus(e.code)
    return { status, body: { error: { code: status === 500 ? WebError.internal : e.code, message: status === 500 ? 'internal error' : e.message, ...(field === undefined ? {} : { field }) } }, ...(retry === undefined ? {} : { retryAfterS: retry }) }
  }
  const f = e as { code?: string; statusCode?: number; validation?: unknown; message?: string; validationContext?: string }
  if (f !== null && typeof f === 'object') {
    if (f.validation !== undefined) return { status: 400, body: { error: { code: 'ZIXT_ERR_SCHEMA', message: `${f.validationContext ?? 'request'}: ${f.message ?? 'invalid'}` } } }
    switch (f.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { status: 413, body: { error: { code: WebError.payloadTooLarge, message: 'request body too large' } } }
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return { status: 415, body: { error: { code: WebError.unsupportedMediaType, message: 'unsupported Content-Type' } } }
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return { status: 400, body: { error: { code: 'ZIXT_ERR_SCHEMA', message: f.message ?? 'bad body' } } }
    }
    if (f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500) {
      if (f.statusCode === 413) return { status: 413, body: { error: { code: WebError.payloadTooLarge, message: 'request body too large' } } }
      if (f.statusCode === 415) return { status: 415, body: { error: { code: WebError.unsupportedMediaType, message: 'unsupported Content-Type' } } }
      if (f.statusCode === 404) return { status: 404, body: { error: { code: 'ZIXT_ERR_NOT_FOUND', message: 'not found' } } }
      return { status: 400, body: { error: { code: 'ZIXT_ERR_SCHEMA', message: f.message ?? 'bad request' } } }
    }
    if (e instanceof SyntaxError) return { status: 400, body: { error: { code: 'ZIXT_ERR_SCHEMA', message: 'body: not JSON' } } }
  }
  return { status: 500, body: { error: { code: WebError.internal, message: 'internal error' } } }
}
