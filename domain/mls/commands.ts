// The ledger as MLS Delivery Service (RFC 9420 §16, RFC 9750 §5): key packages are
// published and claimed through it, and it orders handshake messages so every member
// applies the same commit for each epoch.
import type { CommandOf, CommandSpec } from '../command.ts'
import { limits } from '../limits.ts'
import { array, b64u, deviceIdSchema, epochSchema, object, threadIdSchema, userIdSchema } from '../schemas.ts'

export type PublishedKeyPackage = {
  readonly ref: string // KeyPackageRef (RFC 9420 §5.2), unique per device
  readonly keyPackage: string // the serialized KeyPackage message
}

/** Adds to the device's queue of unclaimed key packages; a lastResort replaces the previous one. */
export type PublishKeyPackages = CommandOf<'PublishKeyPackages', {
  readonly keyPackages: readonly PublishedKeyPackage[]
  readonly lastResort?: PublishedKeyPackage
}>
export type ClaimTarget = { readonly userId: string; readonly deviceId: string }
/**
 * For each target device: its oldest unclaimed key package, else its last-resort one
 * (which may be claimed again). All targets must yield one or the command is rejected.
 */
export type ClaimKeyPackages = CommandOf<'ClaimKeyPackages', { readonly targets: readonly ClaimTarget[] }>
/**
 * A member's commit for `epoch` of the thread's group. The first one for an epoch wins;
 * later ones for the same epoch are rejected (ZIXT_ERR_MLS_EPOCH_TAKEN). A Welcome for
 * members the commit adds travels with it, so it is tied to the winning commit.
 */
export type SubmitMlsCommit = CommandOf<'SubmitMlsCommit', {
  readonly threadId: string
  readonly epoch: number // the epoch the commit was created in; the group moves to epoch + 1
  readonly commit: string // MLSMessage (PublicMessage or PrivateMessage) carrying the Commit
  readonly welcome?: string // MLSMessage carrying the Welcome
}>

export type MlsCommand = PublishKeyPackages | ClaimKeyPackages | SubmitMlsCommit

export const publishedKeyPackageSchema = object({
  ref: b64u(16, limits.keyPackageRefBytesMax),
  keyPackage: b64u(1, limits.keyPackageBytesMax),
})
export const claimTargetSchema = object({ userId: userIdSchema, deviceId: deviceIdSchema })
export const mlsHandshakeSchema = b64u(1, limits.mlsHandshakeBytesMax)

export const mlsCommandSpecs = {
  PublishKeyPackages: {
    signers: ['device'],
    summary: 'publish MLS key packages for this device',
    payload: {
      ...object({ keyPackages: array(publishedKeyPackageSchema, 0, limits.keyPackagesPerPublishMax) }, { lastResort: publishedKeyPackageSchema }),
      minProperties: 1,
    },
  },
  ClaimKeyPackages: {
    signers: ['device'],
    summary: "claim one key package of each target device (to add them to a group)",
    payload: object({ targets: array(claimTargetSchema, 1, limits.claimTargetsMax, true) }),
  },
  SubmitMlsCommit: {
    signers: ['device'],
    summary: 'member: order an MLS commit (and its welcome) for an epoch',
    payload: object({ threadId: threadIdSchema, epoch: epochSchema, commit: mlsHandshakeSchema }, { welcome: mlsHandshakeSchema }),
  },
} as const satisfies Record<MlsCommand['type'], CommandSpec>
