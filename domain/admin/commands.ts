// Admin commands. Device-signed by a user who is an admin at that ledger position; the
// first admin comes from BootstrapAdmin, signed by a service key while no admin exists.
import type { CommandOf, CommandSpec } from '../command.ts'
import { encryptedFieldSchema, object, slhDsaPublicKeySchema, userIdSchema, usernameSchema } from '../schemas.ts'

/** `npx zixt admin create`: a new account that is an admin. Only while there is no admin. */
export type BootstrapAdmin = CommandOf<'BootstrapAdmin', {
  readonly userId: string // userIdFor(identityPublicKey)
  readonly username: string
  readonly identityPublicKey: string
  readonly encryptedEmail: string
}>
export type AdminCreateUser = CommandOf<'AdminCreateUser', {
  readonly userId: string // userIdFor(identityPublicKey)
  readonly username: string
  readonly identityPublicKey: string
  readonly encryptedEmail: string
  readonly admin: boolean
}>
/** At least one of the optional fields, each different from the current value. */
export type AdminEditUser = CommandOf<'AdminEditUser', {
  readonly userId: string
  readonly username?: string
  readonly encryptedEmail?: string
  readonly admin?: boolean
}>
export type AdminDisableUser = CommandOf<'AdminDisableUser', { readonly userId: string }>
export type AdminEnableUser = CommandOf<'AdminEnableUser', { readonly userId: string }>
export type AdminDeleteUser = CommandOf<'AdminDeleteUser', { readonly userId: string }>
/** A user lost their identity key: the admin installs a new one; all devices are revoked. */
export type AdminReplaceUserKey = CommandOf<'AdminReplaceUserKey', { readonly userId: string; readonly identityPublicKey: string }>

export type AdminCommand =
  | BootstrapAdmin | AdminCreateUser | AdminEditUser | AdminDisableUser | AdminEnableUser | AdminDeleteUser | AdminReplaceUserKey

const newUser = {
  userId: userIdSchema,
  username: usernameSchema,
  identityPublicKey: slhDsaPublicKeySchema,
  encryptedEmail: encryptedFieldSchema,
}

export const adminCommandSpecs = {
  BootstrapAdmin: { signers: ['service'], summary: 'create the first admin (only while none exists)', payload: object(newUser) },
  AdminCreateUser: { signers: ['device'], summary: 'admin: create an account', payload: object({ ...newUser, admin: { type: 'boolean' } }) },
  AdminEditUser: {
    signers: ['device'],
    summary: 'admin: change username, encrypted e-mail or admin flag',
    payload: {
      ...object({ userId: userIdSchema }, { username: usernameSchema, encryptedEmail: encryptedFieldSchema, admin: { type: 'boolean' } }),
      minProperties: 2,
    },
  },
  AdminDisableUser: { signers: ['device'], summary: 'admin: the user can no longer act', payload: object({ userId: userIdSchema }) },
  AdminEnableUser: { signers: ['device'], summary: 'admin: undo a disable', payload: object({ userId: userIdSchema }) },
  AdminDeleteUser: { signers: ['device'], summary: 'admin: delete an account', payload: object({ userId: userIdSchema }) },
  AdminReplaceUserKey: {
    signers: ['device'],
    summary: "admin: install a new identity key for a user; revokes the user's devices",
    payload: object({ userId: userIdSchema, identityPublicKey: slhDsaPublicKeySchema }),
  },
} as const satisfies Record<AdminCommand['type'], CommandSpec>
