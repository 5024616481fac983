// The ledger's membership is the authority (docs/domain.md "Threads"): an MLS commit read
// from the ledger must not add a device of someone who is not a member at that point, nor
// keep someone the ledger removed. The Delivery Service cannot check this (commits are
// PrivateMessages), so every receiving client does, with the membership events it knows:
// MemberAdded / MemberRemoved / MemberLeft (and ThreadCreated's members) with positions.
//
// A client may know only part of the history (an API snapshot of current members plus the
// events it saw live), so a user's status at a position is three-valued:
//   member     the latest known event before it is a join
//   nonMember  the latest known event before it is a leave/removal
//   unknown    no known event before it; `evidence` when the next known event is a leave
//              (someone added and removed while we were away), not when there is none (a
//              stranger) or it is a join (added by the ledger only later)
import type { MemberIdentity } from './identity.ts'

export type MembershipEvent = { readonly kind: 'joined' | 'left'; readonly userId: string; readonly position: number }

export type MembershipStatus =
  | { readonly kind: 'member' }
  | { readonly kind: 'nonMember'; readonly since: number }
  /** evidence: the first known event after the position is a leave (so most likely a member then). */
  | { readonly kind: 'unknown'; readonly evidence: boolean }

/** The user's status just before ledger position `position` (events at or after it do not count). */
export function membershipAt(events: readonly MembershipEvent[], userId: string, position: number): MembershipStatus {
  let latest: MembershipEvent | undefined
  let next: MembershipEvent | undefined
  for (const e of events) {
    if (e.userId !== userId) continue
    if (e.position < position && (latest === undefined || e.position > latest.position)) latest = e
    if (e.position >= position && (next === undefined || e.position < next.position)) next = e
  }
  if (latest === undefined) return { kind: 'unknown', evidence: next?.kind === 'left' }
  return latest.kind === 'joined' ? { kind: 'member' } : { kind: 'nonMember', since: latest.position }
}

export type MembershipVerdict = { readonly kind: 'ok' } | { readonly kind: 'refused'; readonly message: string }

const key = (m: MemberIdentity): string => `${m.userId}\u0000${m.deviceId}`

/**
 * A commit at ledger `position`, made in the epoch that began at `epochStart`, changed the
 * group's devices from `before` to `after`. Refused when
 *   - it adds a device of a user who is not a member there (known non-member, or a
 *     stranger: no membership event names them at all);
 *   - it keeps a device of a user the ledger removed, and the committer must have known:
 *     the removal came before this epoch began, or the commit changes membership itself
 *     (only the owner adds/removes, right after the ledger change). A plain update made in
 *     the same epoch as a removal is a race, not an attack: the next commit must fix it.
 */
export function checkCommitMembership(input: {
  readonly before: readonly MemberIdentity[]
  readonly after: readonly MemberIdentity[]
  readonly events: readonly MembershipEvent[]
  readonly position: number
  readonly epochStart: number
}): MembershipVerdict {
  const had = new Set(input.before.map(key))
  const has = new Set(input.after.map(key))
  const added = input.after.filter((m) => !had.has(key(m)))
  const changed = added.length > 0 || input.before.some((m) => !has.has(key(m)))
  for (const m of added) {
    const s = membershipAt(input.events, m.userId, input.position)
    if (s.kind === 'nonMember' || (s.kind === 'unknown' && !s.evidence)) {
      return refused(`the commit at position ${input.position} adds device ${m.deviceId} of user ${m.userId}, who is not a member of the thread`)
    }
  }
  for (const userId of new Set(input.after.map((m) => m.userId))) {
    const s = membershipAt(input.events, userId, input.position)
    if (s.kind === 'nonMember' && (changed || s.since < input.epochStart)) {
      return refused(`the commit at position ${input.position} keeps user ${userId}, who left the thread at position ${s.since}`)
    }
  }
  return { kind: 'ok' }
}

/**
 * The group a Welcome (carried by the commit at `position`) lets us join. Refused when it
 * holds a known non-member, or a stranger while no later commit exists (`latest`) that
 * could have removed someone we no longer see in the membership.
 */
export function checkWelcomeMembership(input: {
  readonly members: readonly MemberIdentity[]
  readonly events: readonly MembershipEvent[]
  readonly position: number
  readonly latest: boolean
}): MembershipVerdict {
  for (const userId of new Set(input.members.map((m) => m.userId))) {
    const s = membershipAt(input.events, userId, input.position)
    if (s.kind === 'nonMember') return refused(`the welcome at position ${input.position} puts user ${userId} in the group, who left the thread at position ${s.since}`)
    if (s.kind === 'unknown' && !s.evidence && input.latest) {
      return refused(`the welcome at position ${input.position} puts user ${userId} in the group, who is not a member of the thread`)
    }
  }
  return { kind: 'ok' }
}

function refused(message: string): MembershipVerdict {
  return { kind: 'refused', message }
}
