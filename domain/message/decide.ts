// Rules for messages. The content is ciphertext; the rules see only membership,
// authorship, the MLS epoch and sizes.
import { assert } from '../assert.ts'
import { limits } from '../limits.ts'
import { accept, type Decision, draft, isRejected, reject, Rejection, type Rejected, threadStream } from '../rejections.ts'
import type { DecideContext, RecentMessage, ThreadState, UserState } from '../state.ts'
import { threadForMember } from '../thread/decide.ts'
import type { DeleteMessage, EditMessage, MessageCommand, PostMessage, ReactToMessage } from './commands.ts'

function checkEpoch(thread: ThreadState, epoch: number): Rejected | undefined {
  if (epoch > thread.epoch) return reject(Rejection.mlsEpochAhead, `payload.epoch: ${epoch} is ahead of the group's epoch ${thread.epoch}`)
  return undefined
}

/** A message still in the thread's edit/delete/react window (limits.messageMutableWindowMs). */
function recentMessage(ctx: DecideContext, thread: ThreadState, messageId: number): RecentMessage | Rejected {
  const m = thread.recent.get(String(messageId))
  if (m === undefined || ctx.time - m.time > limits.messageMutableWindowMs) {
    return reject(Rejection.messageNotFound, `payload.messageId: no message ${messageId} from the last ${limits.messageMutableWindowMs / 86_400_000} days in thread ${thread.threadId}`)
  }
  return m
}

function post(cmd: PostMessage, ctx: DecideContext, user: UserState, deviceId: string): Decision {
  if (!user.emailVerified) return reject(Rejection.emailUnverified, `user ${user.userId} has not verified their e-mail`)
  const found = threadForMember(ctx.state, cmd.payload.threadId, user.userId)
  if (isRejected(found)) return found
  const bad = checkEpoch(found.thread, cmd.payload.epoch)
  if (bad) return bad
  // MessagePosted is this command's only event, so its position is ctx.position
  return accept(draft(threadStream(cmd.payload.threadId), 'MessagePosted', {
    threadId: cmd.payload.threadId, messageId: ctx.position, userId: user.userId, deviceId,
    epoch: cmd.payload.epoch, ciphertext: cmd.payload.ciphertext, attachments: cmd.payload.attachments,
  }))
}

function change(cmd: EditMessage | DeleteMessage | ReactToMessage, ctx: DecideContext, user: UserState, deviceId: string): Decision {
  const p = cmd.payload
  if (cmd.type === 'ReactToMessage' && !user.emailVerified) return reject(Rejection.emailUnverified, `user ${user.userId} has not verified their e-mail`)
  const found = threadForMember(ctx.state, p.threadId, user.userId)
  if (isRejected(found)) return found
  const message = recentMessage(ctx, found.thread, p.messageId)
  if (isRejected(message)) return message
  const stream = threadStream(p.threadId)
  const base = { threadId: p.threadId, messageId: p.messageId, userId: user.userId }
  if (cmd.type === 'ReactToMessage') {
    const bad = checkEpoch(found.thread, cmd.payload.epoch)
    if (bad) return bad
    return accept(draft(stream, 'MessageReacted', { ...base, deviceId, epoch: cmd.payload.epoch, reaction: cmd.payload.reaction }))
  }
  if (message.author !== user.userId) {
    return reject(Rejection.notMessageAuthor, `payload.messageId: message ${p.messageId} was written by ${message.author}, not ${user.userId}`)
  }
  if (cmd.type === 'DeleteMessage') return accept(draft(stream, 'MessageDeleted', base))
  const bad = checkEpoch(found.thread, cmd.payload.epoch)
  if (bad) return bad
  return accept(draft(stream, 'MessageEdited', { ...base, deviceId, epoch: cmd.payload.epoch, ciphertext: cmd.payload.ciphertext }))
}

export function decideMessage(cmd: MessageCommand, ctx: DecideContext): Decision {
  const s = ctx.signer
  assert(s.kind === 'device', 'message commands are device-signed')
  if (cmd.type === 'PostMessage') return post(cmd, ctx, s.user, s.device.deviceId)
  return change(cmd, ctx, s.user, s.device.deviceId)
}
