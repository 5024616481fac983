// The executor every replica runs on every command, in block order. Deterministic byte
// for byte: the result depends only on the state, the command bytes, the block context
// and pure crypto (hashing, signature verification) — no clock, no randomness.
//
//   bytes → parse (size, canonical CBOR, catalog schemas) → time and replay checks →
//   signer resolution and signature → author status → decide → seal → evolve
//
// A rejected command leaves the state untouched (the caller keeps the state it passed).
import { assert } from './assert.ts'
import { adminCommandSpecs, type AdminCommand } from './admin/commands.ts'
import { decideAdmin } from './admin/decide.ts'
import { parseSignedCommand, type SignedDomainCommand, verifyCommandSignature } from './command.ts'
import type { CommandMemo } from './commandMemo.ts'
import type { DomainCommand } from './commands.ts'
import type { CryptoFacade } from './crypto/types.ts'
import { deviceCommandSpecs, type DeviceCommand } from './device/commands.ts'
import { decideDevice } from './device/decide.ts'
import { evolveDevice } from './device/evolve.ts'
import { deviceEventSpecs, type DeviceEvent } from './device/events.ts'
import { fromBase64url } from './encoding.ts'
import { ZixtError } from './errors.ts'
import { type DomainEvent, eventSpecs, isEventType } from './events.ts'
import type { Genesis } from './genesis.ts'
import { equalBytes } from './ledger/codec.ts'
import { eventHash, sealEvents, type StreamHead, ZERO_HASH } from './ledger/event.ts'
import type { Block, EventEnvelope } from './ledger/envelope.ts'
import { limits } from './limits.ts'
import { messageCommandSpecs, type MessageCommand } from './message/commands.ts'
import { decideMessage } from './message/decide.ts'
import { evolveMessage } from './message/evolve.ts'
import { messageEventSpecs, type MessageEvent } from './message/events.ts'
import { mlsCommandSpecs, type MlsCommand } from './mls/commands.ts'
import { decideMls } from './mls/decide.ts'
import { evolveMls } from './mls/evolve.ts'
import { mlsEventSpecs, type MlsEvent } from './mls/events.ts'
import { decideNode } from './node/decide.ts'
import { evolveNode } from './node/evolve.ts'
import { nodeCommandSpecs, type NodeCommand } from './node/commands.ts'
import { nodeEventSpecs, type NodeEvent } from './node/events.ts'
import { PMap } from './pmap.ts'
import { type Decision, isRejected, reject, type Rejected, Rejection, type RejectionCode } from './rejections.ts'
import { validate } from './schemas.ts'
import type { DecideContext, EvolveDeps, IdList, LedgerState, RecentCommands, ResolvedSigner } from './state.ts'
import { threadCommandSpecs, type ThreadCommand } from './thread/commands.ts'
import { decideThread } from './thread/decide.ts'
import { evolveThread } from './thread/evolve.ts'
import { threadEventSpecs, type ThreadEvent } from './thread/events.ts'
import { userCommandSpecs, type UserCommand } from './user/commands.ts'
import { decideUser } from './user/decide.ts'
import { evolveUser } from './user/evolve.ts'
import { userEventSpecs, type UserEvent } from './user/events.ts'

export type { LedgerState }

/** Where in the ledger the command runs: the block's height and agreed time, the next event position. */
export type ExecuteContext = { readonly height: number; readonly time: number; readonly position: number }

export type ExecuteResult =
  | { readonly kind: 'accepted'; readonly state: LedgerState; readonly events: EventEnvelope[]; readonly eventHashes: Uint8Array[] }
  | Rejected

// ---------------------------------------------------------------------------------------
// Genesis

export function genesisState(genesis: Genesis): LedgerState {
  return {
    chainId: genesis.chainId,
    height: -1,
    time: genesis.createdAt,
    nextPosition: 0,
    serviceKeys: new Map(genesis.servicePublicKeys.map((s) => [s.keyId, { keyId: s.keyId, publicKey: s.publicKey }])),
    replicas: genesis.replicas.map((r) => ({
      index: r.index, identityPublicKey: r.identityPublicKey, operationalPublicKey: r.operationalPublicKey, keyVersion: 0,
    })),
    users: PMap.empty(),
    usernames: PMap.empty(),
    devices: PMap.empty(),
    threads: PMap.empty(),
    groups: PMap.empty(),
    adminCount: 0,
    recentCommands: { ids: PMap.empty(), buckets: PMap.empty(), bucketKeys: [] },
    heads: PMap.empty(),
  }
}

// ---------------------------------------------------------------------------------------
// Replay protection (see RecentCommands in state.ts for why forgetting is safe)

const bucketOf = (blockTime: number): number => Math.floor((blockTime + 2 * limits.commandSkewMs) / limits.commandIdBucketMs)

/** Forgets ids whose whole bucket expired before `time`. */
function pruneCommands(rc: RecentCommands, time: number): RecentCommands {
  let { ids, buckets } = rc
  let k = 0
  while (k < rc.bucketKeys.length && (rc.bucketKeys[k]! + 1) * limits.commandIdBucketMs <= time) {
    const key = String(rc.bucketKeys[k]!)
    for (let node: IdList | null = buckets.get(key) ?? null; node !== null; node = node.next) ids = ids.delete(node.id)
    buckets = buckets.delete(key)
    k++
  }
  return k === 0 ? rc : { ids, buckets, bucketKeys: rc.bucketKeys.slice(k) }
}

function rememberCommand(rc: RecentCommands, id: string, time: number): RecentCommands {
  if (rc.ids.has(id)) return rc // the command's second and later events
  const bucket = bucketOf(time)
  const key = String(bucket)
  const keys = rc.bucketKeys.includes(bucket) ? rc.bucketKeys : [...rc.bucketKeys, bucket].sort((a, b) => a - b)
  return {
    ids: rc.ids.set(id, bucket),
    buckets: rc.buckets.set(key, { id, next: rc.buckets.get(key) ?? null }),
    bucketKeys: keys,
  }
}

function pruned(state: LedgerState, time: number): LedgerState {
  const recentCommands = pruneCommands(state.recentCommands, time)
  return recentCommands === state.recentCommands ? state : { ...state, recentCommands }
}

// ---------------------------------------------------------------------------------------
// Signer

const REPLICA_AUTHOR = /^replica:(0|[1-9][0-9]*)$/

function keyExpired(time: number, keyCreatedAt: number): boolean {
  return time - keyCreatedAt > limits.deviceKeyExpiryMs
}

/** Finds the key the command claims, checks it may sign, and verifies the signature. */
function resolveSigner(state: LedgerState, signed: SignedDomainCommand, time: number, verifies: (publicKey: Uint8Array) => boolean): ResolvedSigner | Rejected {
  const cmd = signed.command
  const bad = () => reject(Rejection.badSignature, `signature: does not verify under ${cmd.signer} key ${cmd.keyId}`)
  if (cmd.signer === 'service') {
    if (cmd.author !== cmd.keyId) return reject(Rejection.wrongSigner, `command.author: ${cmd.author} must equal command.keyId ${cmd.keyId} for a service`)
    const key = state.serviceKeys.get(cmd.keyId)
    if (key === undefined) return reject(Rejection.unknownKey, `command.keyId: no service key ${cmd.keyId} in the genesis block`)
    return verifies(key.publicKey) ? { kind: 'service', keyId: cmd.keyId } : bad()
  }
  if (cmd.signer === 'identity') {
    if (cmd.author !== cmd.keyId) return reject(Rejection.wrongSigner, `command.keyId: ${cmd.keyId} must equal command.author ${cmd.author} for an identity key`)
    const replicaMatch = REPLICA_AUTHOR.exec(cmd.author)
    if (replicaMatch !== null) {
      const replica = state.replicas[Number(replicaMatch[1])]
      if (replica === undefined) return reject(Rejection.replicaNotFound, `command.author: no ${cmd.author} in the genesis block`)
      return verifies(replica.identityPublicKey) ? { kind: 'replica', replica } : bad()
    }
    if (cmd.type === 'RegisterUser') {
      const key = fromBase64url(cmd.payload.identityPublicKey)
      return verifies(key) ? { kind: 'newIdentity', userId: cmd.author } : bad()
    }
    const user = state.users.get(cmd.author)
    if (user === undefined) return reject(Rejection.userNotFound, `command.author: no user ${cmd.author}`)
    return verifies(user.identityPublicKey) ? { kind: 'identity', user } : bad()
  }
  const user = state.users.get(cmd.author)
  if (user === undefined) return reject(Rejection.userNotFound, `command.author: no user ${cmd.author}`)
  const device = state.devices.get(cmd.keyId)
  if (device === undefined || device.userId !== user.userId) {
    return reject(Rejection.unknownKey, `command.keyId: user ${user.userId} has no device ${cmd.keyId}`)
  }
  if (device.revoked) return reject(Rejection.keyRevoked, `command.keyId: device ${device.deviceId} is revoked`)
  if (device.expired || keyExpired(time, device.keyCreatedAt)) {
    return reject(Rejection.keyExpired, `command.keyId: the key of device ${device.deviceId} expired; rotate it with the identity key`)
  }
  return verifies(device.publicKey) ? { kind: 'device', user, device } : bad()
}

function checkAuthorStatus(signer: ResolvedSigner, type: string): Rejected | undefined {
  if (signer.kind !== 'device' && signer.kind !== 'identity') return undefined
  const user = signer.user
  if (user.status === 'deleted') return reject(Rejection.userDeleted, `command.author: user ${user.userId} is deleted`)
  // a disabled user may still erase their account
  if (user.status === 'disabled' && type !== 'DeleteAccount') return reject(Rejection.userDisabled, `command.author: user ${user.userId} is disabled`)
  return undefined
}

// ---------------------------------------------------------------------------------------
// decide / evolve dispatch

const has = (specs: object, type: string): boolean => Object.hasOwn(specs, type)

export function decide(cmd: DomainCommand, ctx: DecideContext): Decision {
  const t = cmd.type
  if (has(userCommandSpecs, t)) return decideUser(cmd as UserCommand, ctx)
  if (has(deviceCommandSpecs, t)) return decideDevice(cmd as DeviceCommand, ctx)
  if (has(adminCommandSpecs, t)) return decideAdmin(cmd as AdminCommand, ctx)
  if (has(threadCommandSpecs, t)) return decideThread(cmd as ThreadCommand, ctx)
  if (has(messageCommandSpecs, t)) return decideMessage(cmd as MessageCommand, ctx)
  if (has(mlsCommandSpecs, t)) return decideMls(cmd as MlsCommand, ctx)
  if (has(nodeCommandSpecs, t)) return decideNode(cmd as NodeCommand, ctx)
  throw new ZixtError(Rejection.schema, `command.type: unknown ${t}`)
}

/** One event's effect on the aggregates (not on heads, positions or replay memory). */
export function evolve(state: LedgerState, e: EventEnvelope, deps: EvolveDeps): LedgerState {
  const event = { type: e.type, payload: e.payload } as DomainEvent
  const t = e.type
  if (has(userEventSpecs, t)) return evolveUser(state, event as UserEvent, deps)
  if (has(deviceEventSpecs, t)) return evolveDevice(state, event as DeviceEvent, e.time)
  if (has(threadEventSpecs, t)) return evolveThread(state, event as ThreadEvent, e.position)
  if (has(messageEventSpecs, t)) return evolveMessage(state, event as MessageEvent, e.time)
  if (has(mlsEventSpecs, t)) return evolveMls(state, event as MlsEvent)
  if (has(nodeEventSpecs, t)) return evolveNode(state, event as NodeEvent)
  assert(false, `evolve: unknown event type ${t}`)
}

/** Everything one recorded event does to the state, given the hash of the event. */
function applyEnvelope(state: LedgerState, e: EventEnvelope, head: StreamHead, deps: EvolveDeps): LedgerState {
  assert(e.position === state.nextPosition, `event position ${e.position}, expected ${state.nextPosition}`)
  assert(e.time >= state.time || state.nextPosition === 0, `block time went back from ${state.time} to ${e.time}`)
  const next = evolve(pruned(state, e.time), e, deps)
  return {
    ...next,
    height: e.blockHeight,
    time: e.time,
    nextPosition: e.position + 1,
    heads: next.heads.set(e.stream, head),
    recentCommands: rememberCommand(next.recentCommands, e.commandId, e.time),
  }
}

// ---------------------------------------------------------------------------------------
// The executor

function rejectedFrom(e: unknown): Rejected {
  if (e instanceof ZixtError) return reject(e.code as RejectionCode, e.message)
  throw e
}

function verifierFor(bytes: Uint8Array, signed: SignedDomainCommand, crypto: CryptoFacade, memo: CommandMemo | undefined): (publicKey: Uint8Array) => boolean {
  return memo !== undefined ? (pk) => memo.verify(bytes, pk, crypto) : (pk) => verifyCommandSignature(signed, pk, crypto)
}

/**
 * The signature part of executeCommand on `state` alone (parse, signer, key status,
 * signature), for checking a command ahead of its block: with a memo, its later execution
 * finds the parse and the verification done. Nothing is decided or recorded.
 */
export function precheckCommand(state: LedgerState, signedCommandBytes: Uint8Array, time: number, crypto: CryptoFacade, memo?: CommandMemo): Rejected | null {
  let signed: SignedDomainCommand
  try {
    signed = memo !== undefined ? memo.parse(signedCommandBytes) : parseSignedCommand(signedCommandBytes)
  } catch (e) {
    return rejectedFrom(e)
  }
  const signer = resolveSigner(state, signed, time, verifierFor(signedCommandBytes, signed, crypto, memo))
  return isRejected(signer) ? signer : null
}

/**
 * Runs one command against `state` at ledger position ctx.position in block ctx.height
 * (block time ctx.time, non-decreasing from block to block). Accepted: the new state and
 * the sealed event envelopes. Rejected: a stable code and a reason; `state` stays valid.
 */
export function executeCommand(state: LedgerState, signedCommandBytes: Uint8Array, ctx: ExecuteContext, crypto: CryptoFacade, memo?: CommandMemo): ExecuteResult {
  assert(ctx.position === state.nextPosition, `executeCommand: position ${ctx.position}, the ledger is at ${state.nextPosition}`)
  assert(ctx.time >= state.time || state.nextPosition === 0, `executeCommand: block time ${ctx.time} is before ${state.time}`)
  let signed: SignedDomainCommand
  try {
    signed = memo !== undefined ? memo.parse(signedCommandBytes) : parseSignedCommand(signedCommandBytes)
  } catch (e) {
    return rejectedFrom(e)
  }
  const cmd = signed.command
  if (Math.abs(cmd.time - ctx.time) > limits.commandSkewMs) {
    return reject(Rejection.clockSkew, `command.time: ${cmd.time} is ${cmd.time - ctx.time} ms from the block time ${ctx.time}; at most ±${limits.commandSkewMs} ms`)
  }
  const base = pruned(state, ctx.time)
  if (base.recentCommands.ids.has(cmd.id)) return reject(Rejection.duplicateCommand, `command.id: ${cmd.id} was already executed`)
  const signer = resolveSigner(base, signed, ctx.time, verifierFor(signedCommandBytes, signed, crypto, memo))
  if (isRejected(signer)) return signer
  const status = checkAuthorStatus(signer, cmd.type)
  if (status) return status
  const decision = decide(cmd, { state: base, time: ctx.time, position: ctx.position, commandId: cmd.id, signer, crypto })
  if (isRejected(decision)) return decision
  assert(decision.events.length > 0, `${cmd.type}: an accepted command records at least one event`)
  for (const d of decision.events) {
    assert(isEventType(d.type), `${cmd.type}: unknown event type ${d.type}`)
    validate(eventSpecs[d.type].payload, d.payload, `${d.type}.payload`) // our own output: a failure is a bug
  }
  const sealed = sealEvents(base.heads, decision.events, {
    position: ctx.position, blockHeight: ctx.height, time: ctx.time, commandId: cmd.id, author: cmd.author,
  }, crypto.sha3_256)
  let next = base
  for (const e of sealed.events) next = applyEnvelope(next, e, sealed.heads.get(e.stream)!, { crypto })
  return { kind: 'accepted', state: next, events: sealed.events, eventHashes: sealed.hashes }
}

/**
 * Re-evolves recorded events (restart, catch-up, audit). Gives the same state as
 * executing the commands that produced them.
 */
export function applyEvents(state: LedgerState, events: readonly EventEnvelope[], crypto: CryptoFacade): LedgerState {
  let next = state
  for (const e of events) {
    assert(isEventType(e.type), `applyEvents: unknown event type ${e.type} at position ${e.position}`)
    const prev = next.heads.get(e.stream)
    assert(e.streamVersion === (prev === undefined ? 0 : prev.streamVersion + 1), `applyEvents: ${e.stream} version ${e.streamVersion} out of order`)
    assert(equalBytes(e.prevHash, prev === undefined ? ZERO_HASH : prev.hash), `applyEvents: ${e.stream} version ${e.streamVersion} does not chain`)
    next = applyEnvelope(next, e, { streamVersion: e.streamVersion, hash: eventHash(e, crypto.sha3_256) }, { crypto })
  }
  return next
}

export function applyBlock(state: LedgerState, block: Block, crypto: CryptoFacade): LedgerState {
  return applyEvents(state, block.events, crypto)
}
