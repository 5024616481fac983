// Application messages: MLS PrivateMessages (RFC 9420 §6.3) carrying a content.ts
// payload. The ledger stores the ciphertext; only members of the epoch can read it.
import {
  createApplicationMessage,
  decodeMlsMessage,
  emptyPskIndex,
  encodeMlsMessage,
  processPrivateMessage,
  zeroOutUint8Array,
  type PrivateMessage,
  type RatchetTree,
} from 'ts-mls'
import { decryptSenderData } from 'ts-mls/privateMessage.js'
import { limits } from '../../../../domain/limits.ts'
import { equalBytes } from '../../../../domain/ledger/codec.ts'
import { MlsErrorCode, mlsError, wrapMls } from './errors.ts'
import { isActive, type Group } from './group.ts'
import { identityOfCredential, type MemberIdentity } from './identity.ts'
import { mlsSuite } from './suite.ts'

export type EncryptResult = { readonly message: Uint8Array; readonly group: Group }

/** Encrypts `plaintext` for the group's current epoch. */
export async function encryptMessage(group: Group, plaintext: Uint8Array): Promise<EncryptResult> {
  if (!isActive(group)) throw mlsError(MlsErrorCode.notMember, 'this member was removed from the group')
  if (plaintext.length > limits.messageCiphertextBytesMax) {
    throw mlsError(MlsErrorCode.tooLarge, `plaintext of ${plaintext.length} bytes exceeds ${limits.messageCiphertextBytesMax}`)
  }
  const cs = await mlsSuite()
  const res = await wrapMls(MlsErrorCode.rejected, 'encryptMessage', () => createApplicationMessage(group.state, plaintext, cs))
  const message = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: res.privateMessage })
  // ML-DSA-87 signatures (4627 bytes) and padding ride inside; the ledger caps the whole.
  if (message.length > limits.messageCiphertextBytesMax) {
    throw mlsError(MlsErrorCode.tooLarge, `message of ${message.length} bytes exceeds ${limits.messageCiphertextBytesMax}`)
  }
  for (const s of res.consumed) zeroOutUint8Array(s)
  return { message, group: { state: res.newState } }
}

export type DecryptResult = {
  readonly plaintext: Uint8Array
  readonly sender: { readonly leafIndex: number; readonly identity: MemberIdentity }
  readonly epoch: bigint
  readonly group: Group
}

/**
 * Decrypts an application message of the current epoch or of one of the last few
 * (ts-mls keeps receiver data for keyRetentionConfig.retainKeysForEpochs epochs).
 * Throws ZIXT_ERR_MLS_WRONG_EPOCH for a message from an epoch we never had or no
 * longer keep, which is what a removed member gets for everything sent after.
 */
export async function decryptMessage(group: Group, bytes: Uint8Array): Promise<DecryptResult> {
  const pm = decodePrivate(bytes)
  const ctx = group.state.groupContext
  if (!equalBytes(pm.groupId, ctx.groupId)) throw mlsError(MlsErrorCode.wrongGroup, 'message belongs to another group')
  if (pm.contentType !== 'application') throw mlsError(MlsErrorCode.malformed, `content type ${pm.contentType} is not application; use processCommit`)
  const epochData = receiverData(group, pm.epoch)
  const cs = await mlsSuite()
  // ts-mls does not report the sender of an application message; read it from the
  // sender data (RFC 9420 §6.3.2) with the epoch's key. processPrivateMessage then
  // verifies the signature with that leaf's key, so the identity is authenticated.
  const senderData = await wrapMls(MlsErrorCode.rejected, 'sender data', () => decryptSenderData(pm, epochData.senderDataSecret, cs))
  if (senderData === undefined) throw mlsError(MlsErrorCode.rejected, 'sender data does not decrypt')
  const res = await wrapMls(MlsErrorCode.rejected, 'decryptMessage', () => processPrivateMessage(group.state, pm, emptyPskIndex, cs))
  if (res.kind !== 'applicationMessage') throw mlsError(MlsErrorCode.malformed, 'message is not an application message')
  const leaf = epochData.tree[senderData.leafIndex * 2]
  if (leaf === undefined || leaf.nodeType !== 'leaf') throw mlsError(MlsErrorCode.rejected, `sender leaf ${senderData.leafIndex} is blank`)
  for (const s of res.consumed) zeroOutUint8Array(s)
  return {
    plaintext: res.message,
    sender: { leafIndex: senderData.leafIndex, identity: identityOfCredential(leaf.leaf.credential) },
    epoch: pm.epoch,
    group: { state: res.newState },
  }
}

function receiverData(group: Group, epoch: bigint): { senderDataSecret: Uint8Array; tree: RatchetTree } {
  const s = group.state
  // A removed member keeps its last epoch: what was sent before the removal still reads.
  if (epoch === s.groupContext.epoch) {
    return { senderDataSecret: s.keySchedule.senderDataSecret, tree: s.ratchetTree }
  }
  const old = epoch < s.groupContext.epoch ? s.historicalReceiverData.get(epoch) : undefined
  if (old === undefined) {
    throw mlsError(MlsErrorCode.wrongEpoch, `message is from epoch ${epoch}; this member has keys for epoch ${s.groupContext.epoch} and ${s.historicalReceiverData.size} before it`, {
      epoch: String(epoch),
    })
  }
  return { senderDataSecret: old.senderDataSecret, tree: old.ratchetTree }
}

function decodePrivate(bytes: Uint8Array): PrivateMessage {
  if (bytes.length > limits.messageCiphertextBytesMax) {
    throw mlsError(MlsErrorCode.tooLarge, `message of ${bytes.length} bytes exceeds ${limits.messageCiphertextBytesMax}`)
  }
  let d
  try {
    d = decodeMlsMessage(bytes, 0)
  } catch {
    d = undefined
  }
  if (d === undefined || d[1] !== bytes.length || d[0].wireformat !== 'mls_private_message') {
    throw mlsError(MlsErrorCode.malformed, 'bytes are not exactly one MLS PrivateMessage')
  }
  return d[0].privateMessage
}
