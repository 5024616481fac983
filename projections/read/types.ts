// Row types of the read side: camelCase, booleans as boolean, positions as number.
export type UserRow = {
  userId: string; username: string; identityPublicKey: string; identityKeyVersion: number; encryptedEmail: string | null
  emailVerified: boolean; admin: boolean; disabled: boolean; deleted: boolean; totp: boolean
  backupCodesCount: number; backupCodesCommitment: string | null; createdBy: string | null
  createdPosition: number; createdTime: number; position: number
}
export type IdentityKeyRow = { userId: string; keyVersion: number; publicKey: string; origin: string; addedPosition: number; supersededPosition: number | null; position: number }
export type DeviceRow = {
  deviceId: string; userId: string; keyVersion: number; publicKey: string; issuedAt: number; rotationDue: boolean; expired: boolean
  revoked: boolean; revokedReason: string | null; revokedPosition: number | null; addedPosition: number; position: number
}
export type DeviceKeyRow = {
  deviceId: string; keyVersion: number; userId: string; publicKey: string; issuedAt: number; certificate: string; addedPosition: number
  rotationDuePosition: number | null; expiredPosition: number | null; supersededPosition: number | null; revokedPosition: number | null; position: number
}
export type ThreadRow = {
  threadId: string; groupId: string; encryptedName: string; creatorId: string; ownerId: string | null; epoch: number; memberCount: number
  createdPosition: number; createdTime: number; lastActivityPosition: number; lastActivityTime: number; position: number
}
export type ThreadListItem = ThreadRow & { hidden: boolean; readPosition: number | null; joinedPosition: number; unreadCount: number }
export type MembershipRow = {
  threadId: string; userId: string; active: boolean; joinedPosition: number; addedBy: string; leftPosition: number | null; leftReason: string | null; position: number
}
export type AttachmentRow = { messageId: number; idx: number; blobId: string; threadId: string; ciphertextBytes: number; type: string; deleted: boolean; position: number }
export type MessageRow = {
  messageId: number; threadId: string; userId: string; deviceId: string; epoch: number; ciphertext: string | null; attachmentCount: number
  time: number; blockHeight: number; edited: boolean; editedPosition: number | null; deleted: boolean; deletedPosition: number | null; position: number
  attachments: AttachmentRow[]
}
export type ReactionRow = { position: number; threadId: string; messageId: number; userId: string; deviceId: string; epoch: number; reaction: string; time: number }
export type MlsCommitRow = { threadId: string; epoch: number; commitMessage: string; welcome: string | null; userId: string; deviceId: string; time: number; position: number }
export type KeyPackageRow = {
  deviceId: string; ref: string; userId: string; keyPackage: string; lastResort: boolean; publishedPosition: number; replacedPosition: number | null
  claimedPosition: number | null; claimedBy: string | null; claimedByDevice: string | null; claimCount: number; position: number
}
