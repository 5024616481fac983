// The ledger state every replica holds: what decide() needs to judge the next command.
//
// Container choice: every collection that grows with the number of users, devices,
// threads, streams or recent commands is a persistent hash trie (PMap, domain/pmap.ts).
// A command changes O(touched aggregates) paths of O(log₃₂ n) nodes each and shares the
// rest, so executeCommand returns a new LedgerState without copying the container, and
// the state before the command stays valid (a rejected command simply drops its work).
// Collections bounded by a small limit (a user's devices and threads, a thread's
// members, a device's unclaimed key packages) are plain frozen arrays copied on change.
//
// Memory per aggregate is bounded by limits.ts: devicesPerUserMax, threadsPerUserMax,
// threadMembersMax, keyPackagesPerDeviceMax, threadRecentMessagesMax. Message content,
// key package bytes, e-mail ciphertexts and thread names are never kept: only ids,
// hashes and counters that the rules need.
import { assert } from './assert.ts'
import type { CryptoFacade } from './crypto/types.ts'
import type { StreamHead } from './ledger/event.ts'
import { PMap } from './pmap.ts'

export type UserStatus = 'active' | 'disabled' | 'deleted'

export type UserState = {
  readonly userId: string
  readonly username: string
  readonly identityPublicKey: Uint8Array
  readonly identityKeyVersion: number
  readonly admin: boolean
  readonly status: UserStatus
  readonly emailHash: string // base64url SHA3-256 of the current encryptedEmail bytes
  readonly emailVerified: boolean
  readonly totpEnabled: boolean
  readonly devices: readonly string[] // ids of devices not revoked, in the order added
  readonly threads: readonly string[] // ids of threads the user is a member of, sorted
}

export type DeviceState = {
  readonly deviceId: string
  readonly userId: string
  readonly publicKey: Uint8Array
  readonly keyVersion: number
  readonly keyCreatedAt: number // block time of the DeviceAdded / DeviceKeyRotated event
  readonly revoked: boolean
  readonly rotationDue: boolean
  readonly expired: boolean // ExpireKeys ran for this key version
  readonly keyPackages: readonly string[] // unclaimed key package refs, oldest first
  readonly lastResort: string | null
}

export type Member = {
  readonly userId: string
  readonly joinedAt: number // ledger position of the event that made them a member
  readonly hidden: boolean
  readonly readUpTo: number // -1: nothing read
}

export type RecentMessage = {
  readonly author: string
  readonly time: number // block time it was posted
}

export type ThreadState = {
  readonly threadId: string
  readonly groupId: string
  readonly creator: string
  readonly owner: string | null // null once the last member left
  readonly members: readonly Member[] // join order
  readonly epoch: number // the MLS epoch the group is in (accepted commits so far)
  // Edit/delete/react window (limits.messageMutableWindowMs, threadRecentMessagesMax):
  readonly recent: PMap<RecentMessage> // String(messageId) → message, deleted ones removed
  readonly recentQueue: PQueue // message ids in posting order, pruned from the front
}

/** A FIFO on a PMap: push at tail, pop at head; persistent like the map under it. */
export type PQueue = { readonly head: number; readonly tail: number; readonly items: PMap<number> }
export const emptyQueue: PQueue = { head: 0, tail: 0, items: PMap.empty() }

export function queuePush(q: PQueue, value: number): PQueue {
  return { head: q.head, tail: q.tail + 1, items: q.items.set(String(q.tail), value) }
}

export function queuePeek(q: PQueue): number | undefined {
  return q.head === q.tail ? undefined : q.items.get(String(q.head))
}

export function queuePop(q: PQueue): PQueue {
  if (q.head === q.tail) return q
  return { head: q.head + 1, tail: q.tail, items: q.items.delete(String(q.head)) }
}

export const queueLength = (q: PQueue): number => q.tail - q.head

export type ReplicaState = {
  readonly index: number
  readonly identityPublicKey: Uint8Array
  readonly operationalPublicKey: Uint8Array
  readonly keyVersion: number
}

/**
 * Command ids seen recently, to refuse a replayed command. A command is accepted only
 * when |command.time − block time| ≤ commandSkewMs, so a command accepted at block time
 * B has time ≥ B − skew, and any later block time beyond B + 2·skew fails the time check
 * for it anyway. Its id can therefore be forgotten once the block time passes
 * B + 2·skew: memory holds at most 2·skew worth of accepted commands. Ids are grouped
 * in buckets by that expiry (limits.commandIdBucketMs wide) and dropped a bucket at a
 * time. Only data from the ledger (block times of the events) decides what is kept, so
 * replay from recorded events rebuilds the same set.
 */
export type RecentCommands = {
  readonly ids: PMap<number> // command id → bucket
  readonly buckets: PMap<IdList> // String(bucket) → ids
  readonly bucketKeys: readonly number[] // ascending, a handful
}

/** Persistent singly linked list of ids (O(1) prepend). */
export type IdList = { readonly id: string; readonly next: IdList | null }

export type ServiceKey = { readonly keyId: string; readonly publicKey: Uint8Array }

export type LedgerState = {
  readonly chainId: string
  readonly height: number // last block applied; -1 before the first
  readonly time: number // block time of the last command applied
  readonly nextPosition: number // position of the next event
  readonly serviceKeys: ReadonlyMap<string, ServiceKey> // from genesis, never changes
  readonly replicas: readonly ReplicaState[] // index order
  readonly users: PMap<UserState>
  readonly usernames: PMap<string> // username → user id (deleted users keep theirs)
  readonly devices: PMap<DeviceState>
  readonly threads: PMap<ThreadState>
  readonly groups: PMap<string> // MLS group id → thread id
  readonly adminCount: number // admins that are neither disabled nor deleted
  readonly recentCommands: RecentCommands
  readonly heads: PMap<StreamHead> // stream → last event, for sealEvents
}

/** Who signed the command, resolved against the state before decide runs. */
export type ResolvedSigner =
  | { readonly kind: 'device'; readonly user: UserState; readonly device: DeviceState }
  | { readonly kind: 'identity'; readonly user: UserState }
  | { readonly kind: 'newIdentity'; readonly userId: string } // RegisterUser: the key is in the payload
  | { readonly kind: 'service'; readonly keyId: string }
  | { readonly kind: 'replica'; readonly replica: ReplicaState }

/** Everything decide may read: the state, the block's time and position, pure crypto. */
export type DecideContext = {
  readonly state: LedgerState
  readonly time: number // block time
  readonly position: number // ledger position the command's first event will get
  readonly commandId: string
  readonly signer: ResolvedSigner
  readonly crypto: CryptoFacade // hashing and signature checks only: deterministic
}

/** What evolve may use besides the state and the event: hashing, never randomness. */
export type EvolveDeps = { readonly crypto: CryptoFacade }

// ---------------------------------------------------------------------------------------
// Small persistent-update helpers for evolve. Each asserts the aggregate exists: evolve
// only sees events decide produced (or the ledger recorded), so a missing one is a bug.

export function updateUser(state: LedgerState, userId: string, f: (u: UserState) => UserState): LedgerState {
  const user = state.users.get(userId)
  assert(user !== undefined, `evolve: no user ${userId}`)
  return { ...state, users: state.users.set(userId, f(user)) }
}

export function updateDevice(state: LedgerState, deviceId: string, f: (d: DeviceState) => DeviceState): LedgerState {
  const device = state.devices.get(deviceId)
  assert(device !== undefined, `evolve: no device ${deviceId}`)
  return { ...state, devices: state.devices.set(deviceId, f(device)) }
}

export function updateThread(state: LedgerState, threadId: string, f: (t: ThreadState) => ThreadState): LedgerState {
  const thread = state.threads.get(threadId)
  assert(thread !== undefined, `evolve: no thread ${threadId}`)
  return { ...state, threads: state.threads.set(threadId, f(thread)) }
}

/** A sorted array of strings with `value` added (kept sorted and unique). */
export function sortedInsert(values: readonly string[], value: string): readonly string[] {
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (values[mid]! < value) lo = mid + 1
    else hi = mid
  }
  if (values[lo] === value) return values
  return [...values.slice(0, lo), value, ...values.slice(lo)]
}

export function without(values: readonly string[], value: string): readonly string[] {
  const i = values.indexOf(value)
  return i < 0 ? values : [...values.slice(0, i), ...values.slice(i + 1)]
}
