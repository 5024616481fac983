// Account commands: what a user does to their own account.
import type { CommandOf, CommandSpec } from '../command.ts'
import { limits } from '../limits.ts'
import {
  deviceIdSchema, encryptedFieldSchema, integer, mlDsa65PublicKeySchema, object, b64u,
  sha3HashSchema, slhDsaPublicKeySchema, slhDsaSignatureSchema, timeSchema, userIdSchema, usernameSchema,
} from '../schemas.ts'

/** A device key certified by the identity key (domain/identity.ts, context 'zixt/device-cert/v1'). */
export type DeviceCertificate = {
  readonly deviceId: string // deviceIdFor(first publicKey); stays the same when the key rotates
  readonly publicKey: string // ML-DSA-65
  readonly issuedAt: number // ms since the epoch, part of the signed certificate
  readonly certificate: string // SLH-DSA-SHAKE-256f signature by the identity key
}

export const deviceCertificateSchema = object({
  deviceId: deviceIdSchema,
  publicKey: mlDsa65PublicKeySchema,
  issuedAt: timeSchema,
  certificate: slhDsaSignatureSchema,
})

/** Signed by the new identity key (SLH-DSA) under context 'zixt/identity-rotation/v1'. */
export const IDENTITY_ROTATION_CONTEXT = 'zixt/identity-rotation/v1'

export type RegisterUser = CommandOf<'RegisterUser', {
  readonly username: string
  readonly identityPublicKey: string // SLH-DSA-SHAKE-256f; author = userIdFor(identityPublicKey)
  readonly encryptedEmail: string // AEAD ciphertext under the per-user data key (kept outside the ledger)
  readonly device: DeviceCertificate
}>
export type VerifyEmail = CommandOf<'VerifyEmail', {
  readonly userId: string
  readonly encryptedEmailHash: string // SHA3-256 of the encryptedEmail bytes the mailed token was for
}>
export type ChangeEmail = CommandOf<'ChangeEmail', { readonly encryptedEmail: string }>
export type EnrolTotp = CommandOf<'EnrolTotp', Record<string, never>>
export type RemoveTotp = CommandOf<'RemoveTotp', Record<string, never>>
export type SetBackupCodes = CommandOf<'SetBackupCodes', {
  readonly count: number
  readonly commitment: string // 32 bytes the web derives from its stored code hashes; no code enters the ledger
}>
export type RotateIdentityKey = CommandOf<'RotateIdentityKey', {
  readonly newIdentityPublicKey: string
  /** New key's signature over encode({ commandId, userId, oldIdentityPublicKey, newIdentityPublicKey }). */
  readonly newKeySignature: string
}>
export type DeleteAccount = CommandOf<'DeleteAccount', Record<string, never>>

export type UserCommand =
  | RegisterUser | VerifyEmail | ChangeEmail | EnrolTotp | RemoveTotp | SetBackupCodes | RotateIdentityKey | DeleteAccount

export const userCommandSpecs = {
  RegisterUser: {
    signers: ['identity'],
    summary: 'create an account with its first device',
    payload: object({
      username: usernameSchema,
      identityPublicKey: slhDsaPublicKeySchema,
      encryptedEmail: encryptedFieldSchema,
      device: deviceCertificateSchema,
    }),
  },
  VerifyEmail: {
    signers: ['service'],
    summary: 'the web checked the mailed token for this e-mail ciphertext',
    payload: object({ userId: userIdSchema, encryptedEmailHash: sha3HashSchema }),
  },
  ChangeEmail: {
    signers: ['device'],
    summary: 'replace the encrypted e-mail (verification starts over)',
    payload: object({ encryptedEmail: encryptedFieldSchema }),
  },
  EnrolTotp: { signers: ['device'], summary: 'TOTP is now required at login (the seed stays in the web store)', payload: object({}) },
  RemoveTotp: { signers: ['device'], summary: 'TOTP no longer required at login', payload: object({}) },
  SetBackupCodes: {
    signers: ['device'],
    summary: 'a new set of one-time backup codes replaced the old one',
    payload: object({ count: integer(1, limits.backupCodesMax), commitment: b64u(limits.backupCodesCommitmentBytes) }),
  },
  RotateIdentityKey: {
    signers: ['identity'],
    summary: 'replace the identity key; signed by the old key, countersigned by the new one',
    payload: object({ newIdentityPublicKey: slhDsaPublicKeySchema, newKeySignature: slhDsaSignatureSchema }),
  },
  DeleteAccount: { signers: ['identity'], summary: 'delete the account; the web destroys the data key', payload: object({}) },
} as const satisfies Record<UserCommand['type'], CommandSpec>

