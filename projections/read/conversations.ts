import { type Db, pageLimit, select } from './db.ts'
import type { AttachmentRow, MembershipRow, MessageRow, MlsCommitRow, ReactionRow, ThreadListItem, ThreadRow } from './types.ts'

export async function getThread(db: Db, threadId: string): Promise<ThreadRow | null> {
  return (await select<ThreadRow>(db, 'SELECT * FROM threads WHERE thread_id = ?', [threadId]))[0] ?? null
}

export async function getMembership(db: Db, threadId: string, userId: string): Promise<MembershipRow | null> {
  return (await select<MembershipRow>(db, 'SELECT * FROM memberships WHERE thread_id = ? AND user_id = ?', [threadId, userId]))[0] ?? null
}

export async function listMembers(db: Db, threadId: string): Promise<MembershipRow[]> {
  return select<MembershipRow>(db, 'SELECT * FROM memberships WHERE thread_id = ? AND active = 1 ORDER BY joined_position, user_id', [threadId])
}

/** The user's threads, newest activity first; keyset by `beforeActivity` (a lastActivityPosition). */
export async function listThreadsForUser(db: Db, userId: string, o: { includeHidden?: boolean; beforeActivity?: number; limit: number }): Promise<ThreadListItem[]> {
  return select<ThreadListItem>(db,
    `SELECT t.*, COALESCE(v.hidden, 0) AS hidden, r.read_position, m.joined_position, COALESCE(u.unread_count, 0) AS unread_count
       FROM memberships m JOIN threads t ON t.thread_id = m.thread_id
       LEFT JOIN thread_visibility v ON v.user_id = m.user_id AND v.thread_id = m.thread_id
       LEFT JOIN read_marks r ON r.user_id = m.user_id AND r.thread_id = m.thread_id
       LEFT JOIN unread_counts u ON u.user_id = m.user_id AND u.thread_id = m.thread_id
      WHERE m.user_id = ? AND m.active = 1 AND t.last_activity_position < ? ${o.includeHidden === true ? '' : 'AND COALESCE(v.hidden, 0) = 0'}
      ORDER BY t.last_activity_position DESC LIMIT ?`,
    [userId, o.beforeActivity ?? Number.MAX_SAFE_INTEGER, pageLimit(o.limit)])
}

/** Keyset pages: `before` → newest first below it (default: the latest); `after` → oldest first above it. */
export async function listMessages(db: Db, threadId: string, o: { before?: number; after?: number; limit: number }): Promise<MessageRow[]> {
  const limit = pageLimit(o.limit)
  const rows = o.after !== undefined
    ? await select<MessageRow>(db, 'SELECT * FROM messages WHERE thread_id = ? AND message_id > ? ORDER BY message_id LIMIT ?', [threadId, o.after, limit])
    : await select<MessageRow>(db, 'SELECT * FROM messages WHERE thread_id = ? AND message_id < ? ORDER BY message_id DESC LIMIT ?', [threadId, o.before ?? Number.MAX_SAFE_INTEGER, limit])
  return withAttachments(db, rows)
}

export async function getMessage(db: Db, messageId: number): Promise<MessageRow | null> {
  return (await withAttachments(db, await select<MessageRow>(db, 'SELECT * FROM messages WHERE message_id = ?', [messageId])))[0] ?? null
}

async function withAttachments(db: Db, rows: MessageRow[]): Promise<MessageRow[]> {
  const ids = rows.filter((r) => r.attachmentCount > 0).map((r) => r.messageId)
  const atts = ids.length === 0 ? [] : await select<AttachmentRow>(db, 'SELECT * FROM attachments WHERE message_id IN (?) ORDER BY message_id, idx', [ids])
  for (const r of rows) r.attachments = atts.filter((a) => a.messageId === r.messageId)
  return rows
}

export async function listReactions(db: Db, messageIds: number[]): Promise<ReactionRow[]> {
  if (messageIds.length === 0) return []
  return select<ReactionRow>(db, 'SELECT * FROM reactions WHERE message_id IN (?) ORDER BY message_id, position', [messageIds.slice(0, 500)])
}

/** The attachment, only if the user is an active member of a thread holding it and its message is not deleted. */
export async function getAttachmentForMember(db: Db, blobId: string, userId: string): Promise<AttachmentRow | null> {
  return (await select<AttachmentRow>(db,
    `SELECT a.* FROM attachments a JOIN memberships m ON m.thread_id = a.thread_id AND m.user_id = ? AND m.active = 1
      WHERE a.blob_id = ? AND a.deleted = 0 ORDER BY a.message_id LIMIT 1`, [userId, blobId]))[0] ?? null
}

export async function listMlsCommits(db: Db, threadId: string, o: { fromEpoch: number; limit: number }): Promise<MlsCommitRow[]> {
  return select<MlsCommitRow>(db, 'SELECT * FROM mls_commits WHERE thread_id = ? AND epoch >= ? ORDER BY epoch LIMIT ?', [threadId, o.fromEpoch, pageLimit(o.limit)])
}

export async function getReadMark(db: Db, userId: string, threadId: string): Promise<number | null> {
  const [r] = await select<{ readPosition: number }>(db, 'SELECT read_position FROM read_marks WHERE user_id = ? AND thread_id = ?', [userId, threadId])
  return r?.readPosition ?? null
}
