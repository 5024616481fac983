// Message events, on the thread's stream 'thread:<threadId>'.
import type { EventOf, EventSpec } from '../events.ts'
import { limits } from '../limits.ts'
import { array, deviceIdSchema, epochSchema, object, positionSchema, threadIdSchema, userIdSchema } from '../schemas.ts'
import { type Attachment, attachmentSchema, messageCiphertextSchema, reactionSchema } from './commands.ts'

export type MessagePosted = EventOf<'MessagePosted', {
  readonly threadId: string
  readonly messageId: number // = this event's ledger position
  readonly userId: string
  readonly deviceId: string
  readonly epoch: number
  readonly ciphertext: string
  readonly attachments: readonly Attachment[]
}>
export type MessageEdited = EventOf<'MessageEdited', {
  readonly threadId: string
  readonly messageId: number
  readonly userId: string
  readonly deviceId: string
  readonly epoch: number
  readonly ciphertext: string
}>
export type MessageDeleted = EventOf<'MessageDeleted', { readonly threadId: string; readonly messageId: number; readonly userId: string }>
export type MessageReacted = EventOf<'MessageReacted', {
  readonly threadId: string
  readonly messageId: number
  readonly userId: string
  readonly deviceId: string
  readonly epoch: number
  readonly reaction: string
}>

export type MessageEvent = MessagePosted | MessageEdited | MessageDeleted | MessageReacted

const base = { threadId: threadIdSchema, messageId: positionSchema, userId: userIdSchema }

export const messageEventSpecs = {
  MessagePosted: {
    stream: 'thread',
    payload: object({
      ...base, deviceId: deviceIdSchema, epoch: epochSchema, ciphertext: messageCiphertextSchema,
      attachments: array(attachmentSchema, 0, limits.attachmentsPerMessageMax),
    }),
  },
  MessageEdited: { stream: 'thread', payload: object({ ...base, deviceId: deviceIdSchema, epoch: epochSchema, ciphertext: messageCiphertextSchema }) },
  MessageDeleted: { stream: 'thread', payload: object(base) },
  MessageReacted: { stream: 'thread', payload: object({ ...base, deviceId: deviceIdSchema, epoch: epochSchema, reaction: reactionSchema }) },
} as const satisfies Record<MessageEvent['type'], EventSpec>
