// Live notifications (docs/projections.md § Pub/sub): one JSON message per event on the
// thread's or user's channel, published after the batch committed.
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import { accountsProjection } from '../mysql/accounts.ts'
import { channels } from './keys.ts'
import type { UnreadRow } from './unread.ts'

export const notificationPayloadBytesMax = 256 * 1024

export type EventNotification = {
  readonly v: 1
  readonly kind: 'event'
  readonly position: number
  readonly type: string
  readonly stream: string
  readonly blockHeight: number
  readonly time: number
  readonly author: string
  readonly payload?: unknown
  readonly payloadOmitted?: true
}

/**
 * On `P accounts` for every event the accounts projection applies (users, devices, keys):
 * the users whose rows it may change (payload.userId and the user of a `user:` stream); none
 * when it names no user (ReplicaKeyRotated): read it as "drop everything". Web processes drop
 * their cached session users and devices on it (web/server/accountCache.ts).
 */
export type AccountsNotification = { readonly v: 1; readonly kind: 'accounts'; readonly position: number; readonly type: string; readonly userIds: readonly string[] }

export type UnreadNotification = { readonly v: 1; readonly kind: 'unread'; readonly position: number; readonly threadId: string; readonly count: number }

const membershipTypes = new Set(['MemberAdded', 'MemberRemoved', 'MemberLeft'])

/** [channel, message] pairs for one event. */
export function eventNotifications(prefix: string, e: EventEnvelope): [string, string][] {
  const payload = JSON.stringify(e.payload)
  const head = { v: 1, kind: 'event', position: e.position, type: e.type, stream: e.stream, blockHeight: e.blockHeight, time: e.time, author: e.author }
  const body = payload.length <= notificationPayloadBytesMax
    ? JSON.stringify(head).slice(0, -1) + ',"payload":' + payload + '}'
    : JSON.stringify({ ...head, payloadOmitted: true })
  const [kind, id] = splitStream(e.stream)
  const out: [string, string][] = []
  if (kind === 'thread') out.push([channels.thread(prefix, id), body])
  if (kind === 'user') out.push([channels.user(prefix, id), body])
  if (e.type === 'ThreadCreated') {
    for (const m of e.payload['members'] as readonly string[]) out.push([channels.user(prefix, m), body])
  } else if (membershipTypes.has(e.type)) {
    out.push([channels.user(prefix, e.payload['userId'] as string), body])
  }
  if (accountsProjection.handles.has(e.type as never)) out.push(accountsNotification(prefix, e, kind === 'user' ? id : null))
  return out
}

function accountsNotification(prefix: string, e: EventEnvelope, streamUser: string | null): [string, string] {
  const named = e.payload['userId']
  const userIds = [...new Set([typeof named === 'string' ? named : null, streamUser].filter((u): u is string => u !== null))]
  const n: AccountsNotification = { v: 1, kind: 'accounts', position: e.position, type: e.type, userIds }
  return [channels.accounts(prefix), JSON.stringify(n)]
}

export function unreadNotification(prefix: string, r: UnreadRow): [string, string] {
  const n: UnreadNotification = { v: 1, kind: 'unread', position: Number(r.position), threadId: r.thread_id, count: r.unread_count }
  return [channels.user(prefix, r.user_id), JSON.stringify(n)]
}

function splitStream(stream: string): [string, string] {
  const i = stream.indexOf(':')
  return i < 0 ? [stream, ''] : [stream.slice(0, i), stream.slice(i + 1)]
}
