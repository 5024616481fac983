// Errors of the client MLS core. Expected failures (a message from an old epoch, a
// commit that lost the race) are ZixtErrors with stable codes; ts-mls's own errors
// are wrapped so callers never depend on ts-mls class names.
import { ZixtError } from '../../../../domain/errors.ts'

export const MlsErrorCode = {
  malformed: 'ZIXT_ERR_MLS_MALFORMED', // bytes are not the MLS message we expected
  wrongGroup: 'ZIXT_ERR_MLS_WRONG_GROUP',
  wrongEpoch: 'ZIXT_ERR_MLS_WRONG_EPOCH', // commit not for our epoch, or message epoch forgotten
  rejected: 'ZIXT_ERR_MLS_REJECTED', // signature, confirmation tag, tree or credential check failed
  notMember: 'ZIXT_ERR_MLS_NOT_MEMBER', // we were removed, or the welcome is not for us
  unsupported: 'ZIXT_ERR_MLS_UNSUPPORTED', // wrong ciphersuite, credential type or version
  tooLarge: 'ZIXT_ERR_MLS_TOO_LARGE',
  membership: 'ZIXT_ERR_MLS_MEMBERSHIP', // a commit or welcome disagrees with the ledger's membership
} as const
export type MlsErrorCode = (typeof MlsErrorCode)[keyof typeof MlsErrorCode]

export class MlsClientError extends ZixtError {
  override name = 'MlsClientError'
}

export function mlsError(code: MlsErrorCode, message: string, details: Record<string, unknown> = {}): MlsClientError {
  return new MlsClientError(code, message, details)
}

/** Runs a ts-mls call, turning its exceptions into an MlsClientError with `code`. */
export async function wrapMls<T>(code: MlsErrorCode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (e instanceof ZixtError) throw e
    const cause = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    throw mlsError(code, `${what}: ${cause}`, { cause })
  }
}
