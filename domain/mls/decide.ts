// MLS Delivery Service rules (RFC 9420 §16, RFC 9750 §5.2-5.3): key packages are
// claimed deterministically, once each (the last-resort one may repeat); per thread,
// the first commit for an epoch wins.
import { assert } from '../assert.ts'
import type { EventDraft } from '../ledger/envelope.ts'
import { limits } from '../limits.ts'
import { accept, type Decision, draft, isRejected, reject, Rejection, threadStream, userStream } from '../rejections.ts'
import type { DecideContext, DeviceState, UserState } from '../state.ts'
import { threadForMember } from '../thread/decide.ts'
import type { ClaimKeyPackages, MlsCommand, PublishKeyPackages, SubmitMlsCommit } from './commands.ts'

function publish(cmd: PublishKeyPackages, user: UserState, device: DeviceState): Decision {
  const p = cmd.payload
  const refs = new Set<string>([...device.keyPackages, ...(device.lastResort === null ? [] : [device.lastResort])])
  const all = [...p.keyPackages.map((k, i) => ({ k, field: `payload.keyPackages[${i}]` })), ...(p.lastResort ? [{ k: p.lastResort, field: 'payload.lastResort' }] : [])]
  if (all.length === 0) return reject(Rejection.nothingToDo, 'payload.keyPackages: empty and no lastResort')
  for (const { k, field } of all) {
    if (refs.has(k.ref)) return reject(Rejection.keyPackageExists, `${field}.ref: ${k.ref} is already published by device ${device.deviceId}`)
    refs.add(k.ref)
  }
  const unclaimed = device.keyPackages.length + p.keyPackages.length
  if (unclaimed > limits.keyPackagesPerDeviceMax) {
    return reject(Rejection.limitExceeded, `payload.keyPackages: device ${device.deviceId} would hold ${unclaimed} unclaimed key packages, more than ${limits.keyPackagesPerDeviceMax}`)
  }
  return accept(draft(userStream(user.userId), 'KeyPackagesPublished', { userId: user.userId, deviceId: device.deviceId, ...p }))
}

function claim(cmd: ClaimKeyPackages, ctx: DecideContext, user: UserState, device: DeviceState): Decision {
  if (!user.emailVerified) return reject(Rejection.emailUnverified, `user ${user.userId} has not verified their e-mail`)
  const events: EventDraft[] = []
  for (let i = 0; i < cmd.payload.targets.length; i++) {
    const t = cmd.payload.targets[i]!
    const field = `payload.targets[${i}]`
    const owner = ctx.state.users.get(t.userId)
    if (owner === undefined) return reject(Rejection.userNotFound, `${field}.userId: no user ${t.userId}`)
    if (owner.status === 'deleted') return reject(Rejection.userDeleted, `${field}.userId: user ${t.userId} is deleted`)
    if (owner.status === 'disabled') return reject(Rejection.userDisabled, `${field}.userId: user ${t.userId} is disabled`)
    const target = ctx.state.devices.get(t.deviceId)
    if (target === undefined || target.userId !== t.userId) return reject(Rejection.deviceNotFound, `${field}.deviceId: user ${t.userId} has no device ${t.deviceId}`)
    if (target.revoked) return reject(Rejection.deviceRevoked, `${field}.deviceId: device ${t.deviceId} is revoked`)
    const oldest = target.keyPackages[0]
    const ref = oldest ?? target.lastResort
    if (ref === undefined || ref === null) return reject(Rejection.noKeyPackage, `${field}.deviceId: device ${t.deviceId} has no key package left`)
    events.push(draft(userStream(t.userId), 'KeyPackageClaimed', {
      userId: t.userId, deviceId: t.deviceId, ref, lastResort: oldest === undefined, claimedBy: user.userId, claimedByDevice: device.deviceId,
    }))
  }
  return accept(...events)
}

function submitCommit(cmd: SubmitMlsCommit, ctx: DecideContext, user: UserState, device: DeviceState): Decision {
  const found = threadForMember(ctx.state, cmd.payload.threadId, user.userId)
  if (isRejected(found)) return found
  const { epoch } = cmd.payload
  const current = found.thread.epoch
  if (epoch < current) return reject(Rejection.mlsEpochTaken, `payload.epoch: a commit for epoch ${epoch} was already accepted; the group is at epoch ${current}`)
  if (epoch > current) return reject(Rejection.mlsEpochAhead, `payload.epoch: ${epoch} is ahead of the group's epoch ${current}`)
  return accept(draft(threadStream(found.thread.threadId), 'MlsCommitAccepted', { ...cmd.payload, userId: user.userId, deviceId: device.deviceId }))
}

export function decideMls(cmd: MlsCommand, ctx: DecideContext): Decision {
  const s = ctx.signer
  assert(s.kind === 'device', 'MLS commands are device-signed')
  switch (cmd.type) {
    case 'PublishKeyPackages': return publish(cmd, s.user, s.device)
    case 'ClaimKeyPackages': return claim(cmd, ctx, s.user, s.device)
    case 'SubmitMlsCommit': return submitCommit(cmd, ctx, s.user, s.device)
  }
}
