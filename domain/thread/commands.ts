// Thread commands: a conversation between members, one MLS group per thread.
import type { CommandOf, CommandSpec } from '../command.ts'
import { limits } from '../limits.ts'
import { array, b64u, groupIdSchema, object, positionSchema, threadIdSchema, userIdSchema } from '../schemas.ts'

export type CreateThread = CommandOf<'CreateThread', {
  readonly threadId: string // 16 random bytes chosen by the client
  readonly groupId: string // the MLS group id
  readonly encryptedName: string // ciphertext; the name never reaches the server in clear
  readonly members: readonly string[] // user ids besides the creator (may be empty)
}>
export type RenameThread = CommandOf<'RenameThread', { readonly threadId: string; readonly encryptedName: string }>
/** Owner only (the creator, until they leave). */
export type AddMember = CommandOf<'AddMember', { readonly threadId: string; readonly userId: string }>
/** Owner only; the owner cannot remove themselves (LeaveThread). */
export type RemoveMember = CommandOf<'RemoveMember', { readonly threadId: string; readonly userId: string }>
export type LeaveThread = CommandOf<'LeaveThread', { readonly threadId: string }>
/** Hide for me: the thread leaves my list; other members keep it. */
export type HideThread = CommandOf<'HideThread', { readonly threadId: string }>
export type UnhideThread = CommandOf<'UnhideThread', { readonly threadId: string }>
/** Everything up to and including this ledger position has been read. */
export type MarkRead = CommandOf<'MarkRead', { readonly threadId: string; readonly position: number }>

export type ThreadCommand =
  | CreateThread | RenameThread | AddMember | RemoveMember | LeaveThread | HideThread | UnhideThread | MarkRead

export const encryptedNameSchema = b64u(1, limits.threadNameBytesMax)
const threadOnly = object({ threadId: threadIdSchema })

export const threadCommandSpecs = {
  CreateThread: {
    signers: ['device'],
    summary: 'create a thread with its MLS group and initial members',
    payload: object({
      threadId: threadIdSchema,
      groupId: groupIdSchema,
      encryptedName: encryptedNameSchema,
      members: array(userIdSchema, 0, limits.threadMembersMax - 1, true),
    }),
  },
  RenameThread: { signers: ['device'], summary: 'member: set a new encrypted name', payload: object({ threadId: threadIdSchema, encryptedName: encryptedNameSchema }) },
  AddMember: { signers: ['device'], summary: 'owner: add a member', payload: object({ threadId: threadIdSchema, userId: userIdSchema }) },
  RemoveMember: { signers: ['device'], summary: 'owner: remove a member', payload: object({ threadId: threadIdSchema, userId: userIdSchema }) },
  LeaveThread: { signers: ['device'], summary: 'member: leave the thread', payload: threadOnly },
  HideThread: { signers: ['device'], summary: 'member: hide the thread for me', payload: threadOnly },
  UnhideThread: { signers: ['device'], summary: 'member: show a hidden thread again', payload: threadOnly },
  MarkRead: { signers: ['device'], summary: 'member: read up to a ledger position', payload: object({ threadId: threadIdSchema, position: positionSchema }) },
} as const satisfies Record<ThreadCommand['type'], CommandSpec>
