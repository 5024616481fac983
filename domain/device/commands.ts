// Device commands: certified device keys, their rotation, revocation and ageing.
import type { CommandOf, CommandSpec } from '../command.ts'
import { limits } from '../limits.ts'
import { array, deviceIdSchema, integer, mlDsa65PublicKeySchema, object, slhDsaSignatureSchema, timeSchema, userIdSchema } from '../schemas.ts'
import { type DeviceCertificate, deviceCertificateSchema } from '../user/commands.ts'

export type AddDevice = CommandOf<'AddDevice', { readonly device: DeviceCertificate }>
/** Signed by the identity key, or by the device itself (signing itself out). */
export type RevokeDevice = CommandOf<'RevokeDevice', { readonly deviceId: string }>
/** New key for an existing device id, certified by the identity key. */
export type RotateDeviceKey = CommandOf<'RotateDeviceKey', {
  readonly deviceId: string
  readonly publicKey: string
  readonly issuedAt: number
  readonly certificate: string
}>

/** One device key as the rotation job saw it in the read model. */
export type KeyRef = { readonly userId: string; readonly deviceId: string; readonly keyVersion: number }

/** Service (rotation job): these keys are older than limits.deviceKeyRotationDueMs. */
export type MarkKeyRotationDue = CommandOf<'MarkKeyRotationDue', { readonly keys: readonly KeyRef[] }>
/** Service (rotation job): these keys are older than limits.deviceKeyExpiryMs and leave the active history. */
export type ExpireKeys = CommandOf<'ExpireKeys', { readonly keys: readonly KeyRef[] }>

export type DeviceCommand = AddDevice | RevokeDevice | RotateDeviceKey | MarkKeyRotationDue | ExpireKeys

export const keyRefSchema = object({ userId: userIdSchema, deviceId: deviceIdSchema, keyVersion: integer(0) })

export const deviceCommandSpecs = {
  AddDevice: { signers: ['identity'], summary: 'certify a new device key', payload: object({ device: deviceCertificateSchema }) },
  RevokeDevice: { signers: ['identity', 'device'], summary: 'revoke a device (identity key, or the device itself)', payload: object({ deviceId: deviceIdSchema }) },
  RotateDeviceKey: {
    signers: ['identity'],
    summary: 'certify a new key for an existing device',
    payload: object({ deviceId: deviceIdSchema, publicKey: mlDsa65PublicKeySchema, issuedAt: timeSchema, certificate: slhDsaSignatureSchema }),
  },
  MarkKeyRotationDue: {
    signers: ['service'],
    summary: 'rotation job: device keys older than 30 days must rotate',
    payload: object({ keys: array(keyRefSchema, 1, limits.keysPerRotationCommandMax) }),
  },
  ExpireKeys: {
    signers: ['service'],
    summary: 'rotation job: device keys older than 90 days leave the active history',
    payload: object({ keys: array(keyRefSchema, 1, limits.keysPerRotationCommandMax) }),
  },
} as const satisfies Record<DeviceCommand['type'], CommandSpec>
