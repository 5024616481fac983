// Events of devices; they live on the owner's stream 'user:<userId>'.
import type { EventOf, EventSpec } from '../events.ts'
import { deviceIdSchema, integer, mlDsa65PublicKeySchema, object, oneOfStrings, slhDsaSignatureSchema, timeSchema, userIdSchema } from '../schemas.ts'

export type DeviceAdded = EventOf<'DeviceAdded', {
  readonly userId: string
  readonly deviceId: string
  readonly publicKey: string
  readonly issuedAt: number
  readonly certificate: string
}>

export const DeviceRevocationReason = {
  /** the user revoked it with the identity key */
  user: 'user',
  /** the device signed itself out */
  self: 'self',
  /** an admin replaced the identity key that certified it */
  identityReplaced: 'identityReplaced',
  /** the account was deleted */
  accountDeleted: 'accountDeleted',
} as const
export type DeviceRevocationReason = (typeof DeviceRevocationReason)[keyof typeof DeviceRevocationReason]

export type DeviceRevoked = EventOf<'DeviceRevoked', { readonly userId: string; readonly deviceId: string; readonly reason: DeviceRevocationReason }>
export type DeviceKeyRotated = EventOf<'DeviceKeyRotated', {
  readonly userId: string
  readonly deviceId: string
  readonly publicKey: string
  readonly issuedAt: number
  readonly certificate: string
  readonly keyVersion: number // 0 is the key the device was added with
}>
/** Clients are told to rotate; the key keeps working until it expires. */
export type DeviceKeyRotationDue = EventOf<'DeviceKeyRotationDue', { readonly userId: string; readonly deviceId: string; readonly keyVersion: number }>
/** The key can no longer sign; the device needs RotateDeviceKey (identity key) to come back. */
export type DeviceKeyExpired = EventOf<'DeviceKeyExpired', { readonly userId: string; readonly deviceId: string; readonly keyVersion: number }>

export type DeviceEvent = DeviceAdded | DeviceRevoked | DeviceKeyRotated | DeviceKeyRotationDue | DeviceKeyExpired

const keyRef = { userId: userIdSchema, deviceId: deviceIdSchema, keyVersion: integer(0) }

export const deviceEventSpecs = {
  DeviceAdded: {
    stream: 'user',
    payload: object({ userId: userIdSchema, deviceId: deviceIdSchema, publicKey: mlDsa65PublicKeySchema, issuedAt: timeSchema, certificate: slhDsaSignatureSchema }),
  },
  DeviceRevoked: {
    stream: 'user',
    payload: object({ userId: userIdSchema, deviceId: deviceIdSchema, reason: oneOfStrings(Object.values(DeviceRevocationReason)) }),
  },
  DeviceKeyRotated: {
    stream: 'user',
    payload: object({ ...keyRef, publicKey: mlDsa65PublicKeySchema, issuedAt: timeSchema, certificate: slhDsaSignatureSchema }),
  },
  DeviceKeyRotationDue: { stream: 'user', payload: object(keyRef) },
  DeviceKeyExpired: { stream: 'user', payload: object(keyRef) },
} as const satisfies Record<DeviceEvent['type'], EventSpec>
