// MLS Delivery Service events. Key packages live on the owner's stream 'user:<userId>',
// commits on 'thread:<threadId>'.
import type { EventOf, EventSpec } from '../events.ts'
import { limits } from '../limits.ts'
import { array, b64u, deviceIdSchema, epochSchema, object, threadIdSchema, userIdSchema } from '../schemas.ts'
import { type PublishedKeyPackage, mlsHandshakeSchema, publishedKeyPackageSchema } from './commands.ts'

export type KeyPackagesPublished = EventOf<'KeyPackagesPublished', {
  readonly userId: string
  readonly deviceId: string
  readonly keyPackages: readonly PublishedKeyPackage[]
  readonly lastResort?: PublishedKeyPackage
}>
/** On the target's stream; the claimer reads the key package bytes by ref from the read model. */
export type KeyPackageClaimed = EventOf<'KeyPackageClaimed', {
  readonly userId: string // owner of the key package
  readonly deviceId: string
  readonly ref: string
  readonly lastResort: boolean
  readonly claimedBy: string // user id
  readonly claimedByDevice: string
}>
export type MlsCommitAccepted = EventOf<'MlsCommitAccepted', {
  readonly threadId: string
  readonly epoch: number
  readonly commit: string
  readonly welcome?: string
  readonly userId: string
  readonly deviceId: string
}>

export type MlsEvent = KeyPackagesPublished | KeyPackageClaimed | MlsCommitAccepted

export const mlsEventSpecs = {
  KeyPackagesPublished: {
    stream: 'user',
    payload: object(
      { userId: userIdSchema, deviceId: deviceIdSchema, keyPackages: array(publishedKeyPackageSchema, 0, limits.keyPackagesPerPublishMax) },
      { lastResort: publishedKeyPackageSchema },
    ),
  },
  KeyPackageClaimed: {
    stream: 'user',
    payload: object({
      userId: userIdSchema, deviceId: deviceIdSchema, ref: b64u(16, limits.keyPackageRefBytesMax), lastResort: { type: 'boolean' },
      claimedBy: userIdSchema, claimedByDevice: deviceIdSchema,
    }),
  },
  MlsCommitAccepted: {
    stream: 'thread',
    payload: object(
      { threadId: threadIdSchema, epoch: epochSchema, commit: mlsHandshakeSchema, userId: userIdSchema, deviceId: deviceIdSchema },
      { welcome: mlsHandshakeSchema },
    ),
  },
} as const satisfies Record<MlsEvent['type'], EventSpec>
