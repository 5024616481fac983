// Events of the user aggregate (stream 'user:<userId>'), including what admins do to a user.
import type { EventOf, EventSpec } from '../events.ts'
import {
  b64u, encryptedFieldSchema, integer, object, serviceKeyIdSchema, sha3HashSchema,
  slhDsaPublicKeySchema, userIdSchema, usernameSchema,
} from '../schemas.ts'
import { limits } from '../limits.ts'

/** Who did it: the user, an admin (user id) or a service key ('service:<name>'). */
const bySchema = { anyOf: [userIdSchema, serviceKeyIdSchema] }

export type UserRegistered = EventOf<'UserRegistered', {
  readonly userId: string
  readonly username: string
  readonly identityPublicKey: string
  readonly encryptedEmail: string
}>
/** An account an admin (or the first-admin bootstrap) created; its devices come later (AddDevice). */
export type UserCreated = EventOf<'UserCreated', {
  readonly userId: string
  readonly username: string
  readonly identityPublicKey: string
  readonly encryptedEmail: string
  readonly admin: boolean
  readonly by: string
}>
export type EmailVerified = EventOf<'EmailVerified', { readonly userId: string; readonly encryptedEmailHash: string }>
export type EmailChanged = EventOf<'EmailChanged', { readonly userId: string; readonly encryptedEmail: string; readonly by: string }>
export type UsernameChanged = EventOf<'UsernameChanged', { readonly userId: string; readonly username: string; readonly by: string }>
export type TotpEnrolled = EventOf<'TotpEnrolled', { readonly userId: string }>
export type TotpRemoved = EventOf<'TotpRemoved', { readonly userId: string }>
export type BackupCodesSet = EventOf<'BackupCodesSet', { readonly userId: string; readonly count: number; readonly commitment: string }>
export type IdentityKeyRotated = EventOf<'IdentityKeyRotated', {
  readonly userId: string
  readonly identityPublicKey: string
  readonly keyVersion: number // 0 for the key the account started with
}>
/** An admin replaced the identity key (lost key); every device of the user is revoked with it. */
export type IdentityKeyReplaced = EventOf<'IdentityKeyReplaced', {
  readonly userId: string
  readonly identityPublicKey: string
  readonly keyVersion: number
  readonly by: string
}>
export type AdminGranted = EventOf<'AdminGranted', { readonly userId: string; readonly by: string }>
export type AdminRevoked = EventOf<'AdminRevoked', { readonly userId: string; readonly by: string }>
export type UserDisabled = EventOf<'UserDisabled', { readonly userId: string; readonly by: string }>
export type UserEnabled = EventOf<'UserEnabled', { readonly userId: string; readonly by: string }>
/** The web destroys the user's data key on this event: the encrypted e-mail becomes unreadable. */
export type AccountDeleted = EventOf<'AccountDeleted', { readonly userId: string; readonly by: string }>

export type UserEvent =
  | UserRegistered | UserCreated | EmailVerified | EmailChanged | UsernameChanged | TotpEnrolled | TotpRemoved
  | BackupCodesSet | IdentityKeyRotated | IdentityKeyReplaced | AdminGranted | AdminRevoked | UserDisabled
  | UserEnabled | AccountDeleted

const keyVersionSchema = integer(0)

export const userEventSpecs = {
  UserRegistered: {
    stream: 'user',
    payload: object({ userId: userIdSchema, username: usernameSchema, identityPublicKey: slhDsaPublicKeySchema, encryptedEmail: encryptedFieldSchema }),
  },
  UserCreated: {
    stream: 'user',
    payload: object({
      userId: userIdSchema, username: usernameSchema, identityPublicKey: slhDsaPublicKeySchema,
      encryptedEmail: encryptedFieldSchema, admin: { type: 'boolean' }, by: bySchema,
    }),
  },
  EmailVerified: { stream: 'user', payload: object({ userId: userIdSchema, encryptedEmailHash: sha3HashSchema }) },
  EmailChanged: { stream: 'user', payload: object({ userId: userIdSchema, encryptedEmail: encryptedFieldSchema, by: bySchema }) },
  UsernameChanged: { stream: 'user', payload: object({ userId: userIdSchema, username: usernameSchema, by: bySchema }) },
  TotpEnrolled: { stream: 'user', payload: object({ userId: userIdSchema }) },
  TotpRemoved: { stream: 'user', payload: object({ userId: userIdSchema }) },
  BackupCodesSet: {
    stream: 'user',
    payload: object({ userId: userIdSchema, count: integer(1, limits.backupCodesMax), commitment: b64u(limits.backupCodesCommitmentBytes) }),
  },
  IdentityKeyRotated: {
    stream: 'user',
    payload: object({ userId: userIdSchema, identityPublicKey: slhDsaPublicKeySchema, keyVersion: keyVersionSchema }),
  },
  IdentityKeyReplaced: {
    stream: 'user',
    payload: object({ userId: userIdSchema, identityPublicKey: slhDsaPublicKeySchema, keyVersion: keyVersionSchema, by: bySchema }),
  },
  AdminGranted: { stream: 'user', payload: object({ userId: userIdSchema, by: bySchema }) },
  AdminRevoked: { stream: 'user', payload: object({ userId: userIdSchema, by: bySchema }) },
  UserDisabled: { stream: 'user', payload: object({ userId: userIdSchema, by: bySchema }) },
  UserEnabled: { stream: 'user', payload: object({ userId: userIdSchema, by: bySchema }) },
  AccountDeleted: { stream: 'user', payload: object({ userId: userIdSchema, by: bySchema }) },
} as const satisfies Record<UserEvent['type'], EventSpec>

