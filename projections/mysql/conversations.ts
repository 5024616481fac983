// Threads, memberships, per-user visibility, read marks and unread counts, messages,
// reactions, attachments and MLS commits: one projection, because unread counts depend on
// memberships, read marks and messages at the same ledger position.
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { EventType } from '../../domain/events.ts'
import { type Projection, type Tx, num, optStr, str } from '../projection.ts'

type Handler = (e: EventEnvelope, tx: Tx) => void | Promise<void>
type Members = Map<string, number> // active member → joined position
type Activity = Map<string, { position: number; time: number }>

const UNREAD_ADD = 'unread_count = unread_count + VALUES(unread_count), position = VALUES(position)'
const UNREAD_SET = 'unread_count = VALUES(unread_count), position = VALUES(position)'

/** Active members of a thread as of the events applied so far in this batch. */
async function members(tx: Tx, threadId: string): Promise<Members> {
  const key = 'members:' + threadId
  const cached = tx.scratch.get(key) as Members | undefined
  if (cached !== undefined) return cached
  const rows = await tx.query<{ user_id: string; joined_position: number }>(
    `SELECT user_id, joined_position FROM ${tx.t('memberships')} WHERE thread_id = ? AND active = 1`, [threadId])
  const m: Members = new Map(rows.map((r) => [r.user_id, Number(r.joined_position)]))
  tx.scratch.set(key, m)
  return m
}

/** Active members of every thread the batch touches, in one query (before any event applies). */
async function prefetchMembers(events: readonly EventEnvelope[], tx: Tx): Promise<void> {
  const ids = [...new Set(events.map((e) => e.payload['threadId']).filter((id): id is string => typeof id === 'string'))]
    .filter((id) => !tx.scratch.has('members:' + id))
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000)
    const rows = await tx.query<{ thread_id: string; user_id: string; joined_position: number }>(
      `SELECT thread_id, user_id, joined_position FROM ${tx.t('memberships')} WHERE thread_id IN (${chunk.map(() => '?').join(', ')}) AND active = 1`, chunk)
    const byThread = new Map<string, Members>(chunk.map((id) => [id, new Map()]))
    for (const r of rows) byThread.get(r.thread_id)!.set(r.user_id, Number(r.joined_position))
    for (const [id, m] of byThread) tx.scratch.set('members:' + id, m)
  }
}

function touch(e: EventEnvelope, tx: Tx): void {
  let a = tx.scratch.get('activity') as Activity | undefined
  if (a === undefined) tx.scratch.set('activity', (a = new Map()))
  a.set(str(e, 'threadId'), { position: e.position, time: e.time })
}

function setUnread(tx: Tx, e: EventEnvelope, userId: string, threadId: string, count: number): void {
  tx.insert('unread_counts', { user_id: userId, thread_id: threadId, unread_count: count, position: e.position }, UNREAD_SET)
}

function join(tx: Tx, e: EventEnvelope, threadId: string, userId: string, by: string): void {
  tx.insert('memberships', {
    thread_id: threadId, user_id: userId, active: 1, joined_position: e.position, added_by: by,
    left_position: null, left_reason: null, position: e.position,
  }, 'active = 1, joined_position = VALUES(joined_position), added_by = VALUES(added_by), left_position = NULL, left_reason = NULL, position = VALUES(position)')
  setUnread(tx, e, userId, threadId, 0)
}

function threadCreated(e: EventEnvelope, tx: Tx): void {
  const threadId = str(e, 'threadId')
  const creator = str(e, 'creator')
  const list = e.payload['members'] as readonly string[]
  tx.insert('threads', {
    thread_id: threadId, group_id: str(e, 'groupId'), encrypted_name: str(e, 'encryptedName'), creator_id: creator,
    owner_id: creator, epoch: 0, member_count: list.length, created_position: e.position, created_time: e.time,
    last_activity_position: e.position, last_activity_time: e.time, position: e.position,
  })
  for (const userId of list) join(tx, e, threadId, userId, creator)
  tx.scratch.set('members:' + threadId, new Map(list.map((u) => [u, e.position])))
  touch(e, tx)
}

async function memberAdded(e: EventEnvelope, tx: Tx): Promise<void> {
  const threadId = str(e, 'threadId')
  const userId = str(e, 'userId')
  const m = await members(tx, threadId)
  join(tx, e, threadId, userId, str(e, 'by'))
  m.set(userId, e.position)
  tx.exec('threads', `UPDATE ${tx.t('threads')} SET member_count = ?, position = ? WHERE thread_id = ?`, [m.size, e.position, threadId])
  touch(e, tx)
}

function memberGone(reasonOf: (e: EventEnvelope) => string): Handler {
  return async (e, tx) => {
    const threadId = str(e, 'threadId')
    const userId = str(e, 'userId')
    const m = await members(tx, threadId)
    m.delete(userId)
    tx.exec('memberships', `UPDATE ${tx.t('memberships')} SET active = 0, left_position = ?, left_reason = ?, position = ? WHERE thread_id = ? AND user_id = ?`,
      [e.position, reasonOf(e), e.position, threadId, userId])
    setUnread(tx, e, userId, threadId, 0)
    // an empty thread has no owner; otherwise ThreadOwnerChanged follows if the owner left
    const owner = m.size === 0 ? ', owner_id = NULL' : ''
    tx.exec('threads', `UPDATE ${tx.t('threads')} SET member_count = ?${owner}, position = ? WHERE thread_id = ?`, [m.size, e.position, threadId])
    touch(e, tx)
  }
}

function threadUpdate(assign: string, values: (e: EventEnvelope) => (string | number)[]): Handler {
  return (e, tx) => {
    tx.exec('threads', `UPDATE ${tx.t('threads')} SET ${assign}, position = ? WHERE thread_id = ?`, [...values(e), e.position, str(e, 'threadId')])
    touch(e, tx)
  }
}

function visibility(hidden: 0 | 1): Handler {
  return (e, tx) => tx.insert('thread_visibility',
    { user_id: str(e, 'userId'), thread_id: str(e, 'threadId'), hidden, position: e.position },
    'hidden = VALUES(hidden), position = VALUES(position)')
}

function readMarked(e: EventEnvelope, tx: Tx): void {
  const userId = str(e, 'userId')
  const threadId = str(e, 'threadId')
  const mark = num(e, 'position')
  tx.insert('read_marks', { user_id: userId, thread_id: threadId, read_position: mark, position: e.position },
    'read_position = VALUES(read_position), position = VALUES(position)')
  // recount: messages by others after the mark, posted since the user (last) joined, not deleted
  tx.exec(['unread_counts', 'messages', 'memberships'],
    `INSERT INTO ${tx.t('unread_counts')} (user_id, thread_id, unread_count, position)
     SELECT ?, ?, COUNT(*), ? FROM ${tx.t('messages')} WHERE thread_id = ? AND message_id > ? AND user_id <> ? AND deleted = 0
       AND message_id > COALESCE((SELECT joined_position FROM ${tx.t('memberships')} WHERE thread_id = ? AND user_id = ? AND active = 1), ${Number.MAX_SAFE_INTEGER})
     ON DUPLICATE KEY UPDATE ${UNREAD_SET}`,
    [userId, threadId, e.position, threadId, mark, userId, threadId, userId])
}

async function messagePosted(e: EventEnvelope, tx: Tx): Promise<void> {
  const threadId = str(e, 'threadId')
  const author = str(e, 'userId')
  const attachments = e.payload['attachments'] as readonly { blobId: string; ciphertextBytes: number; type: string }[]
  tx.insert('messages', {
    message_id: e.position, thread_id: threadId, user_id: author, device_id: str(e, 'deviceId'), epoch: num(e, 'epoch'),
    ciphertext: str(e, 'ciphertext'), attachment_count: attachments.length, time: e.time, block_height: e.blockHeight,
    edited: 0, edited_position: null, deleted: 0, deleted_position: null, position: e.position,
  })
  attachments.forEach((a, idx) => tx.insert('attachments', {
    message_id: e.position, idx, blob_id: a.blobId, thread_id: threadId, ciphertext_bytes: a.ciphertextBytes, type: a.type,
    deleted: 0, position: e.position,
  }))
  for (const userId of (await members(tx, threadId)).keys()) {
    if (userId !== author) tx.insert('unread_counts', { user_id: userId, thread_id: threadId, unread_count: 1, position: e.position }, UNREAD_ADD)
  }
  touch(e, tx)
}

function messageEdited(e: EventEnvelope, tx: Tx): void {
  tx.exec('messages', `UPDATE ${tx.t('messages')} SET ciphertext = ?, epoch = ?, edited = 1, edited_position = ?, position = ? WHERE message_id = ? AND deleted = 0`,
    [str(e, 'ciphertext'), num(e, 'epoch'), e.position, e.position, num(e, 'messageId')])
  touch(e, tx)
}

function messageDeleted(e: EventEnvelope, tx: Tx): void {
  const threadId = str(e, 'threadId')
  const id = num(e, 'messageId')
  // members who still had it unread lose one (before the message row says deleted)
  tx.exec(['unread_counts', 'memberships', 'messages', 'read_marks'],
    `UPDATE ${tx.t('unread_counts')} uc
       JOIN ${tx.t('memberships')} m ON m.thread_id = uc.thread_id AND m.user_id = uc.user_id
       JOIN ${tx.t('messages')} msg ON msg.message_id = ? AND msg.deleted = 0
       LEFT JOIN ${tx.t('read_marks')} r ON r.user_id = uc.user_id AND r.thread_id = uc.thread_id
     SET uc.unread_count = uc.unread_count - 1, uc.position = ?
     WHERE uc.thread_id = ? AND m.active = 1 AND m.joined_position < ? AND uc.user_id <> msg.user_id
       AND COALESCE(r.read_position, -1) < ? AND uc.unread_count > 0`,
    [id, e.position, threadId, id, id])
  tx.exec('messages', `UPDATE ${tx.t('messages')} SET deleted = 1, deleted_position = ?, ciphertext = NULL, position = ? WHERE message_id = ?`,
    [e.position, e.position, id])
  tx.exec('attachments', `UPDATE ${tx.t('attachments')} SET deleted = 1, position = ? WHERE message_id = ?`, [e.position, id])
  touch(e, tx)
}

function messageReacted(e: EventEnvelope, tx: Tx): void {
  tx.insert('reactions', {
    position: e.position, thread_id: str(e, 'threadId'), message_id: num(e, 'messageId'), user_id: str(e, 'userId'),
    device_id: str(e, 'deviceId'), epoch: num(e, 'epoch'), reaction: str(e, 'reaction'), time: e.time,
  })
  touch(e, tx)
}

function mlsCommit(e: EventEnvelope, tx: Tx): void {
  const threadId = str(e, 'threadId')
  const epoch = num(e, 'epoch')
  tx.insert('mls_commits', {
    thread_id: threadId, epoch, commit_message: str(e, 'commit'), welcome: optStr(e, 'welcome'),
    user_id: str(e, 'userId'), device_id: str(e, 'deviceId'), time: e.time, position: e.position,
  })
  tx.exec('threads', `UPDATE ${tx.t('threads')} SET epoch = ?, position = ? WHERE thread_id = ?`, [epoch + 1, e.position, threadId])
  touch(e, tx)
}

const handlers: Partial<Record<EventType, Handler>> = {
  ThreadCreated: threadCreated,
  ThreadRenamed: threadUpdate('encrypted_name = ?', (e) => [str(e, 'encryptedName')]),
  MemberAdded: memberAdded,
  MemberRemoved: memberGone((e) => str(e, 'reason') === 'accountDeleted' ? 'accountDeleted' : 'removed'),
  MemberLeft: memberGone(() => 'left'),
  ThreadOwnerChanged: threadUpdate('owner_id = ?', (e) => [str(e, 'owner')]),
  ThreadHidden: visibility(1),
  ThreadUnhidden: visibility(0),
  ReadMarked: readMarked,
  MessagePosted: messagePosted,
  MessageEdited: messageEdited,
  MessageDeleted: messageDeleted,
  MessageReacted: messageReacted,
  MlsCommitAccepted: mlsCommit,
}

export const conversationsProjection: Projection = {
  name: 'conversations',
  tables: ['threads', 'memberships', 'thread_visibility', 'read_marks', 'unread_counts', 'messages', 'reactions', 'attachments', 'mls_commits'],
  handles: new Set(Object.keys(handlers) as EventType[]),
  prepare: prefetchMembers,
  apply(event, tx) {
    return handlers[event.type as EventType]?.(event, tx)
  },
  finish(tx) {
    const a = tx.scratch.get('activity') as Activity | undefined
    if (a === undefined) return
    for (const [threadId, { position, time }] of a) {
      tx.exec('threads', `UPDATE ${tx.t('threads')} SET last_activity_position = ?, last_activity_time = ?, position = GREATEST(position, ?) WHERE thread_id = ?`,
        [position, time, position, threadId])
    }
  },
}
