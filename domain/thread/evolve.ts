// How thread events change the state.
import { PMap } from '../pmap.ts'
import type { LedgerState, Member, ThreadState } from '../state.ts'
import { emptyQueue, sortedInsert, updateThread, updateUser, without } from '../state.ts'
import type { ThreadEvent } from './events.ts'

const newMember = (userId: string, position: number): Member => ({ userId, joinedAt: position, hidden: false, readUpTo: -1 })

function updateMember(state: LedgerState, threadId: string, userId: string, f: (m: Member) => Member): LedgerState {
  return updateThread(state, threadId, (t) => ({ ...t, members: t.members.map((m) => (m.userId === userId ? f(m) : m)) }))
}

function join(state: LedgerState, threadId: string, userId: string): LedgerState {
  return updateUser(state, userId, (u) => ({ ...u, threads: sortedInsert(u.threads, threadId) }))
}

function depart(state: LedgerState, threadId: string, userId: string): LedgerState {
  const next = updateThread(state, threadId, (t) => ({
    ...t,
    members: t.members.filter((m) => m.userId !== userId),
    owner: t.owner === userId ? null : t.owner, // a ThreadOwnerChanged follows if anyone remains
  }))
  return updateUser(next, userId, (u) => ({ ...u, threads: without(u.threads, threadId) }))
}

export function evolveThread(state: LedgerState, event: ThreadEvent, position: number): LedgerState {
  switch (event.type) {
    case 'ThreadCreated': {
      const p = event.payload
      const thread: ThreadState = {
        threadId: p.threadId,
        groupId: p.groupId,
        creator: p.creator,
        owner: p.creator,
        members: p.members.map((userId) => newMember(userId, position)),
        epoch: 0,
        recent: PMap.empty(),
        recentQueue: emptyQueue,
      }
      let next: LedgerState = { ...state, threads: state.threads.set(p.threadId, thread), groups: state.groups.set(p.groupId, p.threadId) }
      for (const userId of p.members) next = join(next, p.threadId, userId)
      return next
    }
    case 'ThreadRenamed': return state // the name is ciphertext the rules never look at
    case 'MemberAdded': {
      const { threadId, userId } = event.payload
      const next = updateThread(state, threadId, (t) => ({ ...t, members: [...t.members, newMember(userId, position)] }))
      return join(next, threadId, userId)
    }
    case 'MemberRemoved':
    case 'MemberLeft': return depart(state, event.payload.threadId, event.payload.userId)
    case 'ThreadOwnerChanged': return updateThread(state, event.payload.threadId, (t) => ({ ...t, owner: event.payload.owner }))
    case 'ThreadHidden': return updateMember(state, event.payload.threadId, event.payload.userId, (m) => ({ ...m, hidden: true }))
    case 'ThreadUnhidden': return updateMember(state, event.payload.threadId, event.payload.userId, (m) => ({ ...m, hidden: false }))
    case 'ReadMarked': return updateMember(state, event.payload.threadId, event.payload.userId, (m) => ({ ...m, readUpTo: event.payload.position }))
  }
}
