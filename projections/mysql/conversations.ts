// Threads, memberships, per-user visibility, read marks and unread counts, messages,
// reactions, attachments and MLS commits: one projection, because unread counts depend on
// memberships, read marks and messages at the same ledger position.
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { EventType } from '../../domain/events.ts'
import { type Projection, type SqlValue, type Tx, num, optStr, str } from '../projection.ts'

type Handler = (e: EventEnvelope, tx: Tx) => void | Promise<void>
type Members = Map<string, number> // active member → joined position
type Activity = Map<string, { position: number; time: number }>

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

// Unread counts, read marks and the batch's messages are kept in memory for the batch (one
// prefetch of the rows it can touch, then one multi-row write per table at `finish`), so no
// statement has to run at its place in the batch and cut the multi-row INSERTs apart. Every
// value equals what the per-event SQL (recount on ReadMarked, decrement on MessageDeleted)
// would have left; a row the prefetch did not cover is read on demand (the DB still holds its
// value from before the batch, as these rows are only written at `finish`).
type Unread = { count: number; position: number; dirty: boolean }
type Msg = { thread: string; author: string; deleted: boolean; row: Record<string, SqlValue> | null; attachments: Record<string, SqlValue>[] }
type State = {
  start: number // first position of the batch: messages below it are in the DB
  unread: Map<string, Unread | null> // user\nthread → row (null: no row)
  marks: Map<string, number | null> // user\nthread → read_position (null: none)
  msgs: Map<number, Msg | null> // messages the batch posts, edits or deletes (null: no such message)
  posted: Map<string, Msg[]> // thread → messages posted in this batch, in order
  dbDeleted: Map<string, { id: number; author: string }[]> // thread → DB messages deleted in this batch
  dbCounts: Map<number, { lo: number; n: number }> // ReadMarked position → undeleted DB messages by others after lo (batch start)
}

const pair = (userId: string, threadId: string): string => userId + '\n' + threadId

function state(tx: Tx): State {
  let s = tx.scratch.get('conv') as State | undefined
  if (s === undefined) {
    s = { start: Number.MAX_SAFE_INTEGER, unread: new Map(), marks: new Map(), msgs: new Map(), posted: new Map(), dbDeleted: new Map(), dbCounts: new Map() }
    tx.scratch.set('conv', s)
  }
  return s
}

const inList = (n: number): string => new Array<string>(n).fill('?').join(', ')

/** Members, their unread rows and read marks, and the messages the batch edits or deletes: before any event applies. */
async function prefetch(events: readonly EventEnvelope[], tx: Tx): Promise<void> {
  const s = state(tx)
  if (events.length > 0) s.start = Math.min(s.start, events[0]!.position)
  const ids = [...new Set(events.map((e) => e.payload['threadId']).filter((id): id is string => typeof id === 'string'))]
    .filter((id) => !tx.scratch.has('members:' + id))
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000)
    const rows = await tx.query<{ thread_id: string; user_id: string; joined_position: number; unread_count: number | null; unread_position: number | null; read_position: number | null }>(
      `SELECT m.thread_id, m.user_id, m.joined_position, uc.unread_count, uc.position AS unread_position, r.read_position
         FROM ${tx.t('memberships')} m
         LEFT JOIN ${tx.t('unread_counts')} uc ON uc.user_id = m.user_id AND uc.thread_id = m.thread_id
         LEFT JOIN ${tx.t('read_marks')} r ON r.user_id = m.user_id AND r.thread_id = m.thread_id
        WHERE m.thread_id IN (${inList(chunk.length)}) AND m.active = 1`, chunk)
    const byThread = new Map<string, Members>(chunk.map((id) => [id, new Map()]))
    for (const r of rows) {
      byThread.get(r.thread_id)!.set(r.user_id, Number(r.joined_position))
      const k = pair(r.user_id, r.thread_id)
      if (!s.unread.has(k)) s.unread.set(k, r.unread_count === null ? null : { count: Number(r.unread_count), position: Number(r.unread_position), dirty: false })
      if (!s.marks.has(k)) s.marks.set(k, r.read_position === null ? null : Number(r.read_position))
    }
    for (const [id, m] of byThread) tx.scratch.set('members:' + id, m)
  }
  // read marks of users joining in this batch (a mark may survive an earlier membership)
  const joining = new Set<string>()
  for (const e of events) {
    if (e.type === 'MemberAdded') joining.add(pair(str(e, 'userId'), str(e, 'threadId')))
    else if (e.type === 'ThreadCreated') for (const u of e.payload['members'] as readonly string[]) joining.add(pair(u, str(e, 'threadId')))
  }
  const missing = [...joining].filter((k) => !s.marks.has(k))
  for (let i = 0; i < missing.length; i += 500) {
    const chunk = missing.slice(i, i + 500)
    const rows = await tx.query<{ user_id: string; thread_id: string; read_position: number }>(
      `SELECT user_id, thread_id, read_position FROM ${tx.t('read_marks')} WHERE ${chunk.map(() => '(user_id = ? AND thread_id = ?)').join(' OR ')}`,
      chunk.flatMap((k) => k.split('\n')))
    for (const k of chunk) s.marks.set(k, null)
    for (const r of rows) s.marks.set(pair(r.user_id, r.thread_id), Number(r.read_position))
  }
  // messages from before the batch that it edits or deletes
  const old = [...new Set(events.filter((e) => e.type === 'MessageDeleted' || e.type === 'MessageEdited').map((e) => num(e, 'messageId')))]
    .filter((id) => id < s.start && !s.msgs.has(id))
  for (let i = 0; i < old.length; i += 1000) {
    const chunk = old.slice(i, i + 1000)
    const rows = await tx.query<{ message_id: number; thread_id: string; user_id: string; deleted: number }>(
      `SELECT message_id, thread_id, user_id, deleted FROM ${tx.t('messages')} WHERE message_id IN (${inList(chunk.length)})`, chunk)
    for (const id of chunk) s.msgs.set(id, null)
    for (const r of rows) s.msgs.set(Number(r.message_id), { thread: r.thread_id, author: r.user_id, deleted: Number(r.deleted) !== 0, row: null, attachments: [] })
  }
  // read marks: undeleted messages by others in the DB after max(mark, joined), for members whose membership predates the batch
  const q: { i: number; t: string; u: string; lo: number }[] = []
  for (const e of events) {
    if (e.type !== 'ReadMarked') continue
    const t = str(e, 'threadId')
    const u = str(e, 'userId')
    const joined = (tx.scratch.get('members:' + t) as Members | undefined)?.get(u)
    if (joined === undefined) continue
    const lo = Math.max(num(e, 'position'), joined)
    if (lo < s.start) q.push({ i: e.position, t, u, lo })
  }
  for (let i = 0; i < q.length; i += 500) {
    const chunk = q.slice(i, i + 500)
    const one = `SELECT ? AS i, COUNT(*) AS n FROM ${tx.t('messages')} WHERE thread_id = ? AND message_id > ? AND user_id <> ? AND deleted = 0`
    const rows = await tx.query<{ i: number; n: number }>(chunk.map(() => `(${one})`).join(' UNION ALL '),
      chunk.flatMap((c) => [c.i, c.t, c.lo, c.u]))
    const lo = new Map(chunk.map((c) => [c.i, c.lo]))
    for (const r of rows) s.dbCounts.set(Number(r.i), { lo: lo.get(Number(r.i))!, n: Number(r.n) })
  }
}

async function unreadOf(tx: Tx, s: State, userId: string, threadId: string): Promise<Unread | null> {
  const k = pair(userId, threadId)
  const known = s.unread.get(k)
  if (known !== undefined) return known
  const [r] = await tx.query<{ unread_count: number; position: number }>(
    `SELECT unread_count, position FROM ${tx.t('unread_counts')} WHERE user_id = ? AND thread_id = ?`, [userId, threadId])
  const u = r === undefined ? null : { count: Number(r.unread_count), position: Number(r.position), dirty: false }
  s.unread.set(k, u)
  return u
}

async function markOf(tx: Tx, s: State, userId: string, threadId: string): Promise<number | null> {
  const k = pair(userId, threadId)
  const known = s.marks.get(k)
  if (known !== undefined) return known
  const [r] = await tx.query<{ read_position: number }>(
    `SELECT read_position FROM ${tx.t('read_marks')} WHERE user_id = ? AND thread_id = ?`, [userId, threadId])
  const m = r === undefined ? null : Number(r.read_position)
  s.marks.set(k, m)
  return m
}

async function msgOf(tx: Tx, s: State, id: number): Promise<Msg | null> {
  const known = s.msgs.get(id)
  if (known !== undefined) return known
  if (id >= s.start) return null // not posted (yet) in this batch
  const [r] = await tx.query<{ thread_id: string; user_id: string; deleted: number }>(
    `SELECT thread_id, user_id, deleted FROM ${tx.t('messages')} WHERE message_id = ?`, [id])
  const m = r === undefined ? null : { thread: r.thread_id, author: r.user_id, deleted: Number(r.deleted) !== 0, row: null, attachments: [] }
  s.msgs.set(id, m)
  return m
}

function touch(e: EventEnvelope, tx: Tx): void {
  let a = tx.scratch.get('activity') as Activity | undefined
  if (a === undefined) tx.scratch.set('activity', (a = new Map()))
  a.set(str(e, 'threadId'), { position: e.position, time: e.time })
}

function setUnread(tx: Tx, e: EventEnvelope, userId: string, threadId: string, count: number): void {
  state(tx).unread.set(pair(userId, threadId), { count, position: e.position, dirty: true })
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

async function readMarked(e: EventEnvelope, tx: Tx): Promise<void> {
  const userId = str(e, 'userId')
  const threadId = str(e, 'threadId')
  const mark = num(e, 'position')
  const s = state(tx)
  tx.insert('read_marks', { user_id: userId, thread_id: threadId, read_position: mark, position: e.position },
    'read_position = VALUES(read_position), position = VALUES(position)')
  s.marks.set(pair(userId, threadId), mark)
  // recount: messages by others after the mark, posted since the user (last) joined, not deleted
  const joined = (await members(tx, threadId)).get(userId)
  let count = 0
  if (joined !== undefined) {
    const lo = Math.max(mark, joined)
    if (lo < s.start) {
      const pre = s.dbCounts.get(e.position)
      if (pre !== undefined && pre.lo === lo) {
        // counted at the start of the batch: less the ones deleted since
        count = pre.n
        for (const d of s.dbDeleted.get(threadId) ?? []) if (d.id > lo && d.author !== userId) count--
      } else {
        const [r] = await tx.query<{ n: number }>( // the DB already has this batch's deletions of its messages
          `SELECT COUNT(*) AS n FROM ${tx.t('messages')} WHERE thread_id = ? AND message_id > ? AND user_id <> ? AND deleted = 0`, [threadId, lo, userId])
        count = Number(r!.n)
      }
    }
    for (const m of s.posted.get(threadId) ?? []) {
      if (!m.deleted && m.author !== userId && Number(m.row!['message_id']) > lo) count++
    }
  }
  s.unread.set(pair(userId, threadId), { count, position: e.position, dirty: true })
}

async function messagePosted(e: EventEnvelope, tx: Tx): Promise<void> {
  const threadId = str(e, 'threadId')
  const author = str(e, 'userId')
  const s = state(tx)
  const attachments = e.payload['attachments'] as readonly { blobId: string; ciphertextBytes: number; type: string }[]
  const msg: Msg = {
    thread: threadId, author, deleted: false,
    row: {
      message_id: e.position, thread_id: threadId, user_id: author, device_id: str(e, 'deviceId'), epoch: num(e, 'epoch'),
      ciphertext: str(e, 'ciphertext'), attachment_count: attachments.length, time: e.time, block_height: e.blockHeight,
      edited: 0, edited_position: null, deleted: 0, deleted_position: null, position: e.position,
    },
    attachments: attachments.map((a, idx) => ({
      message_id: e.position, idx, blob_id: a.blobId, thread_id: threadId, ciphertext_bytes: a.ciphertextBytes, type: a.type,
      deleted: 0, position: e.position,
    })),
  }
  s.msgs.set(e.position, msg)
  let list = s.posted.get(threadId)
  if (list === undefined) s.posted.set(threadId, (list = []))
  list.push(msg)
  for (const userId of (await members(tx, threadId)).keys()) {
    if (userId === author) continue
    const u = await unreadOf(tx, s, userId, threadId)
    s.unread.set(pair(userId, threadId), { count: (u?.count ?? 0) + 1, position: e.position, dirty: true })
  }
  touch(e, tx)
}

async function messageEdited(e: EventEnvelope, tx: Tx): Promise<void> {
  const id = num(e, 'messageId')
  const s = state(tx)
  const m = await msgOf(tx, s, id)
  if (m?.row != null) {
    if (!m.deleted) Object.assign(m.row, { ciphertext: str(e, 'ciphertext'), epoch: num(e, 'epoch'), edited: 1, edited_position: e.position, position: e.position })
  } else if (id < s.start) {
    tx.exec('messages', `UPDATE ${tx.t('messages')} SET ciphertext = ?, epoch = ?, edited = 1, edited_position = ?, position = ? WHERE message_id = ? AND deleted = 0`,
      [str(e, 'ciphertext'), num(e, 'epoch'), e.position, e.position, id])
  }
  touch(e, tx)
}

async function messageDeleted(e: EventEnvelope, tx: Tx): Promise<void> {
  const threadId = str(e, 'threadId')
  const id = num(e, 'messageId')
  const s = state(tx)
  const m = await msgOf(tx, s, id)
  if (m !== null && !m.deleted) {
    // members who still had it unread lose one
    for (const [userId, joined] of await members(tx, threadId)) {
      if (joined >= id || userId === m.author) continue
      if ((await markOf(tx, s, userId, threadId) ?? -1) >= id) continue
      const u = await unreadOf(tx, s, userId, threadId)
      if (u === null || u.count <= 0) continue
      s.unread.set(pair(userId, threadId), { count: u.count - 1, position: e.position, dirty: true })
    }
    if (m.row === null) {
      let list = s.dbDeleted.get(m.thread)
      if (list === undefined) s.dbDeleted.set(m.thread, (list = []))
      list.push({ id, author: m.author })
    }
  }
  if (m !== null) m.deleted = true
  if (m?.row != null) {
    Object.assign(m.row, { deleted: 1, deleted_position: e.position, ciphertext: null, position: e.position })
    for (const a of m.attachments) Object.assign(a, { deleted: 1, position: e.position })
  } else if (id < s.start) {
    tx.exec('messages', `UPDATE ${tx.t('messages')} SET deleted = 1, deleted_position = ?, ciphertext = NULL, position = ? WHERE message_id = ?`,
      [e.position, e.position, id])
    tx.exec('attachments', `UPDATE ${tx.t('attachments')} SET deleted = 1, position = ? WHERE message_id = ?`, [e.position, id])
  }
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
  prepare: prefetch,
  apply(event, tx) {
    return handlers[event.type as EventType]?.(event, tx)
  },
  finish(tx) {
    const s = tx.scratch.get('conv') as State | undefined
    if (s !== undefined) {
      for (const m of s.msgs.values()) {
        if (m?.row == null) continue
        tx.insert('messages', m.row)
        for (const a of m.attachments) tx.insert('attachments', a)
      }
      for (const [k, u] of s.unread) {
        if (u === null || !u.dirty) continue
        const i = k.indexOf('\n')
        tx.insert('unread_counts', { user_id: k.slice(0, i), thread_id: k.slice(i + 1), unread_count: u.count, position: u.position }, UNREAD_SET)
      }
    }
    const a = tx.scratch.get('activity') as Activity | undefined
    if (a === undefined) return
    for (const [threadId, { position, time }] of a) {
      tx.exec('threads', `UPDATE ${tx.t('threads')} SET last_activity_position = ?, last_activity_time = ?, position = GREATEST(position, ?) WHERE thread_id = ?`,
        [position, time, position, threadId])
    }
  },
}
