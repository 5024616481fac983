// Thread events. Membership changes live on 'thread:<threadId>'; per-user preferences
// (hidden, read marks) on the member's own stream 'user:<userId>', so they are not pushed
// to the other members.
import type { EventOf, EventSpec } from '../events.ts'
import { limits } from '../limits.ts'
import { array, groupIdSchema, object, oneOfStrings, positionSchema, threadIdSchema, userIdSchema } from '../schemas.ts'
import { encryptedNameSchema } from './commands.ts'

export type ThreadCreated = EventOf<'ThreadCreated', {
  readonly threadId: string
  readonly groupId: string
  readonly encryptedName: string
  readonly creator: string
  readonly members: readonly string[] // the creator first, then the invited users in command order
}>
export type ThreadRenamed = EventOf<'ThreadRenamed', { readonly threadId: string; readonly encryptedName: string; readonly by: string }>
export type MemberAdded = EventOf<'MemberAdded', { readonly threadId: string; readonly userId: string; readonly by: string }>

export const MemberRemovalReason = {
  /** the owner removed them */
  removed: 'removed',
  /** their account was deleted */
  accountDeleted: 'accountDeleted',
} as const
export type MemberRemovalReason = (typeof MemberRemovalReason)[keyof typeof MemberRemovalReason]

export type MemberRemoved = EventOf<'MemberRemoved', {
  readonly threadId: string
  readonly userId: string
  readonly by: string
  readonly reason: MemberRemovalReason
}>
export type MemberLeft = EventOf<'MemberLeft', { readonly threadId: string; readonly userId: string }>
/** The owner left or was deleted: the longest-standing remaining member now owns the thread. */
export type ThreadOwnerChanged = EventOf<'ThreadOwnerChanged', { readonly threadId: string; readonly owner: string }>
export type ThreadHidden = EventOf<'ThreadHidden', { readonly userId: string; readonly threadId: string }>
export type ThreadUnhidden = EventOf<'ThreadUnhidden', { readonly userId: string; readonly threadId: string }>
export type ReadMarked = EventOf<'ReadMarked', { readonly userId: string; readonly threadId: string; readonly position: number }>

export type ThreadEvent =
  | ThreadCreated | ThreadRenamed | MemberAdded | MemberRemoved | MemberLeft | ThreadOwnerChanged
  | ThreadHidden | ThreadUnhidden | ReadMarked

const userThread = object({ userId: userIdSchema, threadId: threadIdSchema })

export const threadEventSpecs = {
  ThreadCreated: {
    stream: 'thread',
    payload: object({
      threadId: threadIdSchema, groupId: groupIdSchema, encryptedName: encryptedNameSchema, creator: userIdSchema,
      members: array(userIdSchema, 1, limits.threadMembersMax, true),
    }),
  },
  ThreadRenamed: { stream: 'thread', payload: object({ threadId: threadIdSchema, encryptedName: encryptedNameSchema, by: userIdSchema }) },
  MemberAdded: { stream: 'thread', payload: object({ threadId: threadIdSchema, userId: userIdSchema, by: userIdSchema }) },
  MemberRemoved: {
    stream: 'thread',
    payload: object({ threadId: threadIdSchema, userId: userIdSchema, by: userIdSchema, reason: oneOfStrings(Object.values(MemberRemovalReason)) }),
  },
  MemberLeft: { stream: 'thread', payload: object({ threadId: threadIdSchema, userId: userIdSchema }) },
  ThreadOwnerChanged: { stream: 'thread', payload: object({ threadId: threadIdSchema, owner: userIdSchema }) },
  ThreadHidden: { stream: 'user', payload: userThread },
  ThreadUnhidden: { stream: 'user', payload: userThread },
  ReadMarked: { stream: 'user', payload: object({ userId: userIdSchema, threadId: threadIdSchema, position: positionSchema }) },
} as const satisfies Record<ThreadEvent['type'], EventSpec>
