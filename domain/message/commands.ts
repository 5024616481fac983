// Message commands. Content is always an MLS PrivateMessage (RFC 9420 §6.3) made by the
// client; the ledger sees ciphertext, sizes and declared attachment types only.
import type { CommandOf, CommandSpec } from '../command.ts'
import { limits } from '../limits.ts'
import { array, b64u, epochSchema, integer, object, oneOfStrings, positionSchema, threadIdSchema } from '../schemas.ts'

export const AttachmentType = ['PNG', 'JPEG', 'GIF', 'BMP', 'PDF', 'TXT', 'DOC', 'DOCX'] as const
export type AttachmentType = (typeof AttachmentType)[number]

/** A reference to an encrypted blob the web stored content-addressed. */
export type Attachment = {
  readonly blobId: string // lower-case hex SHA-256 of the ciphertext blob
  readonly ciphertextBytes: number // ≤ 15 MiB of plaintext + AEAD overhead
  readonly type: AttachmentType // declared; the receiving client checks the content after decryption
}

export type PostMessage = CommandOf<'PostMessage', {
  readonly threadId: string
  readonly epoch: number // MLS epoch the ciphertext was made in
  readonly ciphertext: string
  readonly attachments: readonly Attachment[]
}>
/** messageId = ledger position of the MessagePosted event; author only, while the message is recent. */
export type EditMessage = CommandOf<'EditMessage', {
  readonly threadId: string
  readonly messageId: number
  readonly epoch: number
  readonly ciphertext: string
}>
export type DeleteMessage = CommandOf<'DeleteMessage', { readonly threadId: string; readonly messageId: number }>
/** The reaction is MLS ciphertext too (the server must not learn it); adding and removing are inside it. */
export type ReactToMessage = CommandOf<'ReactToMessage', {
  readonly threadId: string
  readonly messageId: number
  readonly epoch: number
  readonly reaction: string
}>

export type MessageCommand = PostMessage | EditMessage | DeleteMessage | ReactToMessage

export const attachmentSchema = object({
  blobId: { type: 'string', minLength: 64, maxLength: 64, pattern: '^[0-9a-f]{64}$' },
  ciphertextBytes: integer(1, limits.attachmentPlainBytesMax + limits.attachmentOverheadBytesMax),
  type: oneOfStrings(AttachmentType),
})
export const messageCiphertextSchema = b64u(1, limits.messageCiphertextBytesMax)
export const reactionSchema = b64u(1, limits.reactionBytesMax)

export const messageCommandSpecs = {
  PostMessage: {
    signers: ['device'],
    summary: 'member: post an MLS ciphertext with attachment references',
    payload: object({
      threadId: threadIdSchema,
      epoch: epochSchema,
      ciphertext: messageCiphertextSchema,
      attachments: array(attachmentSchema, 0, limits.attachmentsPerMessageMax),
    }),
  },
  EditMessage: {
    signers: ['device'],
    summary: 'author: replace a recent message',
    payload: object({ threadId: threadIdSchema, messageId: positionSchema, epoch: epochSchema, ciphertext: messageCiphertextSchema }),
  },
  DeleteMessage: { signers: ['device'], summary: 'author: delete a recent message', payload: object({ threadId: threadIdSchema, messageId: positionSchema }) },
  ReactToMessage: {
    signers: ['device'],
    summary: 'member: react to a recent message (encrypted reaction)',
    payload: object({ threadId: threadIdSchema, messageId: positionSchema, epoch: epochSchema, reaction: reactionSchema }),
  },
} as const satisfies Record<MessageCommand['type'], CommandSpec>
