// How message events change the state: only the recent-message index the edit, delete
// and react rules need (author and time), bounded in time and count per thread.
import { limits } from '../limits.ts'
import type { LedgerState, ThreadState } from '../state.ts'
import { queueLength, queuePeek, queuePop, queuePush, updateThread } from '../state.ts'
import type { MessageEvent } from './events.ts'

/** Drops messages older than the window, deleted ones at the front, and any beyond the count cap. */
function prune(thread: ThreadState, now: number): ThreadState {
  let { recent, recentQueue } = thread
  for (;;) {
    const front = queuePeek(recentQueue)
    if (front === undefined) break
    const m = recent.get(String(front))
    const keep = m !== undefined && now - m.time <= limits.messageMutableWindowMs && queueLength(recentQueue) <= limits.threadRecentMessagesMax
    if (keep) break
    recent = recent.delete(String(front))
    recentQueue = queuePop(recentQueue)
  }
  return recent === thread.recent ? thread : { ...thread, recent, recentQueue }
}

export function evolveMessage(state: LedgerState, event: MessageEvent, time: number): LedgerState {
  switch (event.type) {
    case 'MessagePosted': {
      const { threadId, messageId, userId } = event.payload
      return updateThread(state, threadId, (t) => prune({
        ...t,
        recent: t.recent.set(String(messageId), { author: userId, time }),
        recentQueue: queuePush(t.recentQueue, messageId),
      }, time))
    }
    case 'MessageDeleted': {
      const { threadId, messageId } = event.payload
      return updateThread(state, threadId, (t) => ({ ...t, recent: t.recent.delete(String(messageId)) }))
    }
    case 'MessageEdited':
    case 'MessageReacted': return state
  }
}
