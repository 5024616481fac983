// Rules for thread commands: membership, ownership, per-user preferences.
import { assert } from '../assert.ts'
import type { EventDraft } from '../ledger/envelope.ts'
import { limits } from '../limits.ts'
import { accept, type Decision, draft, isRejected, reject, Rejection, type Rejected, threadStream, userStream } from '../rejections.ts'
import type { DecideContext, LedgerState, Member, ThreadState, UserState } from '../state.ts'
import type { MemberRemovalReason } from './events.ts'
import type {
  AddMember, CreateThread, HideThread, LeaveThread, MarkRead, RemoveMember, RenameThread, ThreadCommand, UnhideThread,
} from './commands.ts'

export function memberOf(thread: ThreadState, userId: string): Member | undefined {
  return thread.members.find((m) => m.userId === userId)
}

/** The thread, and the author's membership in it. */
export function threadForMember(state: LedgerState, threadId: string, userId: string): { thread: ThreadState; member: Member } | Rejected {
  const thread = state.threads.get(threadId)
  if (thread === undefined) return reject(Rejection.threadNotFound, `payload.threadId: no thread ${threadId}`)
  const member = memberOf(thread, userId)
  if (member === undefined) return reject(Rejection.notMember, `payload.threadId: user ${userId} is not a member of thread ${threadId}`)
  return { thread, member }
}

export type Departure =
  | { readonly type: 'MemberLeft' }
  | { readonly type: 'MemberRemoved'; readonly by: string; readonly reason: MemberRemovalReason }

/**
 * A member leaves (or is removed): the event, then — if they owned the thread and anyone
 * remains — ownership passes to the remaining member who joined first.
 */
export function departureEvents(thread: ThreadState, userId: string, how: Departure): EventDraft[] {
  const stream = threadStream(thread.threadId)
  const events = [
    how.type === 'MemberLeft'
      ? draft(stream, 'MemberLeft', { threadId: thread.threadId, userId })
      : draft(stream, 'MemberRemoved', { threadId: thread.threadId, userId, by: how.by, reason: how.reason }),
  ]
  if (thread.owner === userId) {
    const heir = thread.members.find((m) => m.userId !== userId)
    if (heir !== undefined) events.push(draft(stream, 'ThreadOwnerChanged', { threadId: thread.threadId, owner: heir.userId }))
  }
  return events
}

/** A user who can be put into a thread: exists, not deleted, not disabled, below their thread limit. */
function joinable(state: LedgerState, userId: string, field: string): UserState | Rejected {
  const user = state.users.get(userId)
  if (user === undefined) return reject(Rejection.userNotFound, `${field}: no user ${userId}`)
  if (user.status === 'deleted') return reject(Rejection.userDeleted, `${field}: user ${userId} is deleted`)
  if (user.status === 'disabled') return reject(Rejection.userDisabled, `${field}: user ${userId} is disabled`)
  if (user.threads.length >= limits.threadsPerUserMax) {
    return reject(Rejection.limitExceeded, `${field}: user ${userId} is in ${limits.threadsPerUserMax} threads already`)
  }
  return user
}


function createThread(cmd: CreateThread, ctx: DecideContext, author: UserState): Decision {
  const p = cmd.payload
  if (!author.emailVerified) return reject(Rejection.emailUnverified, `user ${author.userId} has not verified their e-mail`)
  if (ctx.state.threads.has(p.threadId)) return reject(Rejection.threadExists, `payload.threadId: thread ${p.threadId} already exists`)
  if (ctx.state.groups.has(p.groupId)) return reject(Rejection.groupExists, `payload.groupId: MLS group ${p.groupId} is already used`)
  const creator = joinable(ctx.state, author.userId, 'command.author')
  if (isRejected(creator)) return creator
  for (let i = 0; i < p.members.length; i++) {
    const userId = p.members[i]!
    if (userId === author.userId) return reject(Rejection.alreadyMember, `payload.members[${i}]: the creator is a member already`)
    const user = joinable(ctx.state, userId, `payload.members[${i}]`)
    if (isRejected(user)) return user
  }
  return accept(draft(threadStream(p.threadId), 'ThreadCreated', {
    threadId: p.threadId, groupId: p.groupId, encryptedName: p.encryptedName, creator: author.userId, members: [author.userId, ...p.members],
  }))
}

function renameThread(cmd: RenameThread, ctx: DecideContext, author: UserState): Decision {
  const found = threadForMember(ctx.state, cmd.payload.threadId, author.userId)
  if (isRejected(found)) return found
  return accept(draft(threadStream(cmd.payload.threadId), 'ThreadRenamed', { ...cmd.payload, by: author.userId }))
}

function ownedThread(state: LedgerState, threadId: string, author: UserState): ThreadState | Rejected {
  const found = threadForMember(state, threadId, author.userId)
  if (isRejected(found)) return found
  if (found.thread.owner !== author.userId) {
    return reject(Rejection.notOwner, `payload.threadId: only the owner (${found.thread.owner ?? 'none'}) may change the members of thread ${threadId}`)
  }
  return found.thread
}

function addMember(cmd: AddMember, ctx: DecideContext, author: UserState): Decision {
  const thread = ownedThread(ctx.state, cmd.payload.threadId, author)
  if (isRejected(thread)) return thread
  const { userId } = cmd.payload
  if (memberOf(thread, userId)) return reject(Rejection.alreadyMember, `payload.userId: user ${userId} is already a member`)
  if (thread.members.length >= limits.threadMembersMax) {
    return reject(Rejection.limitExceeded, `payload.threadId: thread ${thread.threadId} has ${limits.threadMembersMax} members already`)
  }
  const user = joinable(ctx.state, userId, 'payload.userId')
  if (isRejected(user)) return user
  return accept(draft(threadStream(thread.threadId), 'MemberAdded', { threadId: thread.threadId, userId, by: author.userId }))
}

function removeMember(cmd: RemoveMember, ctx: DecideContext, author: UserState): Decision {
  const thread = ownedThread(ctx.state, cmd.payload.threadId, author)
  if (isRejected(thread)) return thread
  const { userId } = cmd.payload
  if (userId === author.userId) return reject(Rejection.invalidArgument, 'payload.userId: to remove yourself, use LeaveThread')
  if (!memberOf(thread, userId)) return reject(Rejection.notMember, `payload.userId: user ${userId} is not a member of thread ${thread.threadId}`)
  return accept(...departureEvents(thread, userId, { type: 'MemberRemoved', by: author.userId, reason: 'removed' }))
}

function leaveThread(cmd: LeaveThread, ctx: DecideContext, author: UserState): Decision {
  const found = threadForMember(ctx.state, cmd.payload.threadId, author.userId)
  if (isRejected(found)) return found
  return accept(...departureEvents(found.thread, author.userId, { type: 'MemberLeft' }))
}

function setHidden(cmd: HideThread | UnhideThread, ctx: DecideContext, author: UserState): Decision {
  const found = threadForMember(ctx.state, cmd.payload.threadId, author.userId)
  if (isRejected(found)) return found
  const hide = cmd.type === 'HideThread'
  if (found.member.hidden === hide) {
    return reject(Rejection.noChange, `payload.threadId: thread ${cmd.payload.threadId} is ${hide ? 'already hidden' : 'not hidden'}`)
  }
  const payload = { userId: author.userId, threadId: cmd.payload.threadId }
  return accept(hide ? draft(userStream(author.userId), 'ThreadHidden', payload) : draft(userStream(author.userId), 'ThreadUnhidden', payload))
}

function markRead(cmd: MarkRead, ctx: DecideContext, author: UserState): Decision {
  const found = threadForMember(ctx.state, cmd.payload.threadId, author.userId)
  if (isRejected(found)) return found
  const { position } = cmd.payload
  if (position >= ctx.position) return reject(Rejection.positionAhead, `payload.position: ${position} is not in the ledger yet (next is ${ctx.position})`)
  if (position <= found.member.readUpTo) {
    return reject(Rejection.noChange, `payload.position: ${position} is not past the current read mark ${found.member.readUpTo}`)
  }
  return accept(draft(userStream(author.userId), 'ReadMarked', { userId: author.userId, threadId: cmd.payload.threadId, position }))
}

export function decideThread(cmd: ThreadCommand, ctx: DecideContext): Decision {
  assert(ctx.signer.kind === 'device', 'thread commands are device-signed')
  const author = ctx.signer.user
  switch (cmd.type) {
    case 'CreateThread': return createThread(cmd, ctx, author)
    case 'RenameThread': return renameThread(cmd, ctx, author)
    case 'AddMember': return addMember(cmd, ctx, author)
    case 'RemoveMember': return removeMember(cmd, ctx, author)
    case 'LeaveThread': return leaveThread(cmd, ctx, author)
    case 'HideThread':
    case 'UnhideThread': return setHidden(cmd, ctx, author)
    case 'MarkRead': return markRead(cmd, ctx, author)
  }
}
