// Every code a command can be rejected with. Rejections are values (STYLE: Errors), the
// same on every replica; the reason names the field and value, never a secret.
import { ErrorCode } from './errors.ts'
import type { EventDraft } from './ledger/envelope.ts'
import type { EventByType, EventType } from './events.ts'

export const Rejection = {
  // shape
  schema: ErrorCode.schema, // ZIXT_ERR_SCHEMA: wrong type, size, missing or unknown field
  nonCanonical: ErrorCode.nonCanonical, // ZIXT_ERR_NON_CANONICAL: bytes are not canonical CBOR
  tooLarge: 'ZIXT_ERR_COMMAND_TOO_LARGE',
  invalidArgument: ErrorCode.invalidArgument, // ZIXT_ERR_INVALID_ARGUMENT: well-formed but not allowed (e.g. removing yourself)
  // authentication
  badSignature: ErrorCode.badSignature, // ZIXT_ERR_BAD_SIGNATURE
  wrongSigner: 'ZIXT_ERR_WRONG_SIGNER', // signer kind or key does not fit author/type
  unknownKey: 'ZIXT_ERR_UNKNOWN_KEY',
  keyRevoked: 'ZIXT_ERR_KEY_REVOKED',
  keyExpired: 'ZIXT_ERR_KEY_EXPIRED',
  duplicateCommand: 'ZIXT_ERR_DUPLICATE_COMMAND',
  clockSkew: 'ZIXT_ERR_CLOCK_SKEW',
  // accounts and devices
  userNotFound: 'ZIXT_ERR_USER_NOT_FOUND',
  userExists: 'ZIXT_ERR_USER_EXISTS',
  userDisabled: 'ZIXT_ERR_USER_DISABLED',
  userDeleted: 'ZIXT_ERR_USER_DELETED',
  usernameTaken: 'ZIXT_ERR_USERNAME_TAKEN',
  userIdMismatch: 'ZIXT_ERR_USER_ID_MISMATCH', // userId ≠ userIdFor(identityPublicKey)
  deviceNotFound: 'ZIXT_ERR_DEVICE_NOT_FOUND',
  deviceExists: 'ZIXT_ERR_DEVICE_EXISTS',
  deviceIdMismatch: 'ZIXT_ERR_DEVICE_ID_MISMATCH', // deviceId ≠ deviceIdFor(publicKey)
  deviceRevoked: 'ZIXT_ERR_DEVICE_REVOKED',
  badCertificate: 'ZIXT_ERR_BAD_CERTIFICATE',
  emailUnverified: 'ZIXT_ERR_EMAIL_UNVERIFIED',
  emailChanged: 'ZIXT_ERR_EMAIL_CHANGED', // VerifyEmail for a ciphertext that is no longer current
  keyNotDue: 'ZIXT_ERR_KEY_NOT_DUE',
  nothingToDo: 'ZIXT_ERR_NOTHING_TO_DO',
  noChange: 'ZIXT_ERR_NO_CHANGE', // the command would not change anything (already so)
  limitExceeded: ErrorCode.limitExceeded, // ZIXT_ERR_LIMIT_EXCEEDED
  // admin
  notAdmin: 'ZIXT_ERR_NOT_ADMIN',
  adminExists: 'ZIXT_ERR_ADMIN_EXISTS',
  lastAdmin: 'ZIXT_ERR_LAST_ADMIN',
  // threads
  threadNotFound: 'ZIXT_ERR_THREAD_NOT_FOUND',
  threadExists: 'ZIXT_ERR_THREAD_EXISTS',
  groupExists: 'ZIXT_ERR_GROUP_EXISTS',
  notMember: 'ZIXT_ERR_NOT_MEMBER',
  alreadyMember: 'ZIXT_ERR_ALREADY_MEMBER',
  notOwner: 'ZIXT_ERR_NOT_OWNER',
  positionAhead: 'ZIXT_ERR_POSITION_AHEAD',
  // messages
  messageNotFound: 'ZIXT_ERR_MESSAGE_NOT_FOUND',
  notMessageAuthor: 'ZIXT_ERR_NOT_MESSAGE_AUTHOR',
  // MLS delivery service
  mlsEpochTaken: 'ZIXT_ERR_MLS_EPOCH_TAKEN',
  mlsEpochAhead: 'ZIXT_ERR_MLS_EPOCH_AHEAD',
  keyPackageExists: 'ZIXT_ERR_KEY_PACKAGE_EXISTS',
  noKeyPackage: 'ZIXT_ERR_NO_KEY_PACKAGE',
  // replicas
  replicaNotFound: 'ZIXT_ERR_REPLICA_NOT_FOUND',
} as const
export type RejectionCode = (typeof Rejection)[keyof typeof Rejection]

export type Rejected = { readonly kind: 'rejected'; readonly code: RejectionCode; readonly reason: string }

export function reject(code: RejectionCode, reason: string): Rejected {
  return { kind: 'rejected', code, reason }
}

// ---------------------------------------------------------------------------------------
// What decide() returns.

export type Accepted = { readonly kind: 'accepted'; readonly events: readonly EventDraft[] }
export type Decision = Accepted | Rejected

export function accept(...events: EventDraft[]): Accepted {
  return { kind: 'accepted', events }
}

/** A typed event draft for `stream` ('user:<id>', 'thread:<id>', 'node:<index>'). */
export function draft<T extends EventType>(stream: string, type: T, payload: EventByType<T>['payload']): EventDraft {
  return { stream, type, payload: payload as EventDraft['payload'] }
}

export const userStream = (userId: string): string => `user:${userId}`
export const threadStream = (threadId: string): string => `thread:${threadId}`
export const nodeStream = (index: number): string => `node:${index}`

export function isRejected(x: object): x is Rejected {
  return (x as { kind?: unknown }).kind === 'rejected'
}
