// Group changes under ledger ordering. The ledger is the MLS Delivery Service: the
// first valid commit per (group, epoch) wins, every member applies commits in ledger
// order. So a client never applies its own commit when it creates it: it gets a
// PendingCommit, submits `commit` (and `welcome`) to the ledger, and then
//   - ledger accepted it  → applyOwnCommit(group, pending)
//   - another commit won  → discardPending + processCommit(group, winner)
// applyLedgerHandshake does that choice for a handshake message read from the ledger.
import {
  createCommit,
  decodeMlsMessage,
  emptyPskIndex,
  encodeMlsMessage,
  processPrivateMessage,
  processPublicMessage,
  zeroOutUint8Array,
  type ClientState,
  type MLSMessage,
  type Proposal,
} from 'ts-mls'
import { limits } from '../../../../domain/limits.ts'
import { equalBytes } from '../../../../domain/ledger/codec.ts'
import { MlsErrorCode, mlsError, wrapMls } from './errors.ts'
import { groupMembers, isActive, membersOfTree, ownLeafIndex, type Group, type GroupMember } from './group.ts'
import { sameIdentity, type MemberIdentity } from './identity.ts'
import { parseKeyPackage } from './keyPackages.ts'
import { mlsSuite } from './suite.ts'

export type PendingCommit = {
  readonly kind: 'pendingCommit'
  readonly groupId: Uint8Array
  /** The epoch the commit was made in: the ledger's (group, epoch) slot it competes for. */
  readonly epoch: bigint
  /** MLSMessage (PrivateMessage, content type commit) to submit to the ledger. */
  readonly commit: Uint8Array
  /** MLSMessage Welcome for the added members, tied to this commit; undefined without adds. */
  readonly welcome: Uint8Array | undefined
  /** KeyPackageRefs the Welcome is addressed to (what the ledger marks as claimed). */
  readonly addedKeyPackageRefs: readonly Uint8Array[]
  readonly next: ClientState
  readonly consumed: readonly Uint8Array[]
}

export type AddOptions = {
  /** Put the ratchet tree in the Welcome's GroupInfo (ratchet_tree extension). Default true. */
  readonly ratchetTreeInWelcome?: boolean
}

function checkCanCommit(group: Group): void {
  if (!isActive(group)) throw mlsError(MlsErrorCode.notMember, 'this member was removed from the group')
}

/** Adds the devices behind `keyPackages` (MLSMessage bytes as published), in one commit. */
export async function proposeAddMembers(group: Group, keyPackages: readonly Uint8Array[], options: AddOptions = {}): Promise<PendingCommit> {
  checkCanCommit(group)
  if (keyPackages.length === 0 || keyPackages.length > limits.threadMembersMax) {
    throw mlsError(MlsErrorCode.tooLarge, `${keyPackages.length} key packages, want 1..${limits.threadMembersMax}`)
  }
  const present = groupMembers(group).map((m) => m.identity)
  const proposals: Proposal[] = []
  const refs: Uint8Array[] = []
  for (const bytes of keyPackages) {
    const kp = await parseKeyPackage(bytes)
    if (present.some((id) => sameIdentity(id, kp.identity))) {
      throw mlsError(MlsErrorCode.rejected, `device ${kp.identity.userId}/${kp.identity.deviceId} is already in the group`)
    }
    present.push(kp.identity)
    proposals.push({ proposalType: 'add', add: { keyPackage: kp.keyPackage } })
    refs.push(kp.ref)
  }
  return commitWith(group, proposals, refs, options.ratchetTreeInWelcome !== false)
}

/** Whom to remove: a leaf index, one device, or every device of a user. */
export type RemoveTarget = number | MemberIdentity | { readonly userId: string }

export async function proposeRemoveMembers(group: Group, targets: readonly RemoveTarget[]): Promise<PendingCommit> {
  checkCanCommit(group)
  const members = groupMembers(group)
  const own = ownLeafIndex(group)
  const leaves = new Set<number>()
  for (const t of targets) {
    const hits = members.filter((m) =>
      typeof t === 'number' ? m.leafIndex === t : 'deviceId' in t ? sameIdentity(m.identity, t) : m.identity.userId === t.userId,
    )
    if (hits.length === 0) throw mlsError(MlsErrorCode.notMember, `no member matches ${JSON.stringify(t)}`)
    for (const h of hits) leaves.add(h.leafIndex)
  }
  // A member cannot commit its own removal (RFC 9420 §12.2); leaving is a proposal for others to commit.
  if (leaves.has(own)) throw mlsError(MlsErrorCode.rejected, 'cannot commit the removal of our own leaf')
  if (leaves.size === 0) throw mlsError(MlsErrorCode.rejected, 'nothing to remove')
  const proposals: Proposal[] = [...leaves].sort((a, b) => a - b).map((removed) => ({ proposalType: 'remove', remove: { removed } }))
  return commitWith(group, proposals, [], false)
}

/** An empty commit with a fresh update path: new leaf and path keys (post-compromise security). */
export async function proposeSelfUpdate(group: Group): Promise<PendingCommit> {
  checkCanCommit(group)
  return commitWith(group, [], [], false)
}

async function commitWith(group: Group, proposals: Proposal[], refs: Uint8Array[], treeInWelcome: boolean): Promise<PendingCommit> {
  const cs = await mlsSuite()
  const res = await wrapMls(MlsErrorCode.rejected, 'createCommit', () =>
    createCommit({ state: group.state, cipherSuite: cs }, { extraProposals: proposals, ratchetTreeExtension: treeInWelcome }),
  )
  const commit = encodeMlsMessage(res.commit)
  const welcome = res.welcome === undefined ? undefined : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: res.welcome })
  for (const [what, b] of [['commit', commit], ['welcome', welcome]] as const) {
    if (b !== undefined && b.length > limits.mlsHandshakeBytesMax) {
      throw mlsError(MlsErrorCode.tooLarge, `${what} of ${b.length} bytes exceeds ${limits.mlsHandshakeBytesMax}; add fewer members per commit`)
    }
  }
  return {
    kind: 'pendingCommit',
    groupId: group.state.groupContext.groupId.slice(),
    epoch: group.state.groupContext.epoch,
    commit,
    welcome,
    addedKeyPackageRefs: refs,
    next: res.newState,
    consumed: res.consumed,
  }
}

/** The ledger accepted our commit: move to the next epoch. */
export function applyOwnCommit(group: Group, pending: PendingCommit): Group {
  if (!equalBytes(pending.groupId, group.state.groupContext.groupId)) throw mlsError(MlsErrorCode.wrongGroup, 'pending commit belongs to another group')
  if (pending.epoch !== group.state.groupContext.epoch) {
    throw mlsError(MlsErrorCode.wrongEpoch, `pending commit is for epoch ${pending.epoch}, group is at ${group.state.groupContext.epoch}`)
  }
  for (const s of pending.consumed) zeroOutUint8Array(s)
  return { state: pending.next }
}

/**
 * Another commit won the (group, epoch) slot: forget ours. The confirmed group is
 * unchanged. Nothing is wiped: the pending state shares untouched keys with it.
 */
export function discardPending(group: Group, _pending: PendingCommit): Group {
  return group
}

export type ProcessCommitResult =
  | { readonly kind: 'applied'; readonly group: Group; readonly epoch: bigint }
  | { readonly kind: 'removed'; readonly group: Group } // the commit removed us; the group is now inactive

export type ProcessOptions = {
  /**
   * Sees the devices before and after a valid commit, before anything is applied or wiped:
   * a message (the ledger's membership disagrees, ./membership.ts) refuses the commit
   * with ZIXT_ERR_MLS_MEMBERSHIP and leaves `group` usable.
   */
  readonly checkMembers?: (change: { readonly before: readonly GroupMember[]; readonly after: readonly GroupMember[] }) => string | undefined
}

/** Applies another member's commit, in ledger order. */
export async function processCommit(group: Group, commitBytes: Uint8Array, options: ProcessOptions = {}): Promise<ProcessCommitResult> {
  checkCanCommit(group)
  const msg = decodeHandshake(commitBytes)
  const header = msg.wireformat === 'mls_private_message' ? msg.privateMessage : msg.publicMessage.content
  if (!equalBytes(header.groupId, group.state.groupContext.groupId)) throw mlsError(MlsErrorCode.wrongGroup, 'commit belongs to another group')
  if (header.epoch !== group.state.groupContext.epoch) {
    throw mlsError(MlsErrorCode.wrongEpoch, `commit is for epoch ${header.epoch}, group is at ${group.state.groupContext.epoch}`)
  }
  const contentType = msg.wireformat === 'mls_private_message' ? msg.privateMessage.contentType : msg.publicMessage.content.contentType
  if (contentType !== 'commit') throw mlsError(MlsErrorCode.malformed, `handshake content type ${contentType} is not commit`)
  const cs = await mlsSuite()
  const res = await wrapMls(MlsErrorCode.rejected, 'processCommit', async () =>
    msg.wireformat === 'mls_private_message'
      ? processPrivateMessage(group.state, msg.privateMessage, emptyPskIndex, cs)
      : processPublicMessage(group.state, msg.publicMessage, emptyPskIndex, cs),
  )
  if (!('actionTaken' in res) || res.actionTaken !== 'accept') throw mlsError(MlsErrorCode.rejected, 'commit was rejected')
  const refusal = options.checkMembers?.({ before: groupMembers(group), after: membersOfTree(res.newState.ratchetTree) })
  if (refusal !== undefined) throw mlsError(MlsErrorCode.membership, refusal)
  for (const s of res.consumed) zeroOutUint8Array(s)
  const next: Group = { state: res.newState }
  if (next.state.groupActiveState.kind === 'removedFromGroup') return { kind: 'removed', group: next }
  return { kind: 'applied', group: next, epoch: next.state.groupContext.epoch }
}

export type LedgerHandshakeResult =
  | { readonly kind: 'ownCommitApplied'; readonly group: Group }
  | { readonly kind: 'commitProcessed'; readonly result: ProcessCommitResult; readonly pendingDiscarded: boolean }

/**
 * A commit the ledger accepted for this group, with our pending commit if we have one.
 * Ours (byte-identical) → apply it; someone else's → process it and, when it took the
 * slot ours competed for, report that ours is discarded (resubmit from the new epoch).
 */
export async function applyLedgerHandshake(group: Group, commitBytes: Uint8Array, pending?: PendingCommit, options: ProcessOptions = {}): Promise<LedgerHandshakeResult> {
  if (pending !== undefined && equalBytes(pending.commit, commitBytes)) return { kind: 'ownCommitApplied', group: applyOwnCommit(group, pending) }
  const slot = group.state.groupContext.epoch
  const result = await processCommit(group, commitBytes, options)
  return { kind: 'commitProcessed', result, pendingDiscarded: pending !== undefined && pending.epoch === slot }
}

type HandshakeMessage = Extract<MLSMessage, { wireformat: 'mls_private_message' | 'mls_public_message' }>

function decodeHandshake(bytes: Uint8Array): HandshakeMessage {
  if (bytes.length > limits.mlsHandshakeBytesMax) {
    throw mlsError(MlsErrorCode.tooLarge, `handshake of ${bytes.length} bytes exceeds ${limits.mlsHandshakeBytesMax}`)
  }
  let d
  try {
    d = decodeMlsMessage(bytes, 0)
  } catch {
    d = undefined
  }
  if (d === undefined || d[1] !== bytes.length) throw mlsError(MlsErrorCode.malformed, 'bytes are not exactly one MLSMessage')
  const m = d[0]
  if (m.wireformat !== 'mls_private_message' && m.wireformat !== 'mls_public_message') {
    throw mlsError(MlsErrorCode.malformed, `wireformat ${m.wireformat} is not a handshake message`)
  }
  return m
}
