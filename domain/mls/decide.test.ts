import t from 'tap'
import { limits } from '../limits.ts'
import { Rejection } from '../rejections.ts'
import { active, b64From, byDevice, cipher, deviceAdded, ev, newDevice, registered, threadCreated, threadId, user } from '../testing/fixtures.ts'
import { given } from '../testing/spec.ts'

const alice = user('alice')
const bob = user('bob')
const carol = user('carol')
const T = threadId('project')
const kp = (label: string) => ({ ref: b64From(`ref:${label}`, 64), keyPackage: b64From(`kp:${label}`, 300) })
const bobStream = `user:${bob.userId}`
const published = ev(bobStream, 'KeyPackagesPublished', { userId: bob.userId, deviceId: bob.device.deviceId, keyPackages: [kp('b1'), kp('b2')], lastResort: kp('blr') })
const claim = (targets = [{ userId: bob.userId, deviceId: bob.device.deviceId }], u = alice) => byDevice(u, 'ClaimKeyPackages', { targets })

t.test('PublishKeyPackages', async (t) => {
  const publish = byDevice(bob, 'PublishKeyPackages', { keyPackages: [kp('b1'), kp('b2')], lastResort: kp('blr') })
  const { state } = given(active(bob)).when(publish).then(t, {
    type: 'KeyPackagesPublished', stream: bobStream,
    payload: { userId: bob.userId, deviceId: bob.device.deviceId, keyPackages: [kp('b1'), kp('b2')], lastResort: kp('blr') },
  })
  t.same(state.devices.get(bob.device.deviceId)!.keyPackages, [kp('b1').ref, kp('b2').ref], 'state keeps refs only, oldest first')
  given(active(bob), published).when(byDevice(bob, 'PublishKeyPackages', { keyPackages: [kp('b2')] }))
    .rejects(t, Rejection.keyPackageExists, 'payload.keyPackages[0].ref')
  given(active(bob)).when(byDevice(bob, 'PublishKeyPackages', { keyPackages: [kp('x'), kp('x')] }))
    .rejects(t, Rejection.keyPackageExists, 'payload.keyPackages[1].ref')
  given(active(bob)).when(byDevice(bob, 'PublishKeyPackages', { keyPackages: [] })).rejects(t, Rejection.nothingToDo)
  const many = Array.from({ length: limits.keyPackagesPerPublishMax }, (_, i) => kp(`m${i}`))
  const full = Array.from({ length: limits.keyPackagesPerDeviceMax / limits.keyPackagesPerPublishMax }, (_, j) =>
    ev(bobStream, 'KeyPackagesPublished', { userId: bob.userId, deviceId: bob.device.deviceId, keyPackages: many.map((k) => kp(`${j}:${k.ref}`)) }))
  given(active(bob), full).when(byDevice(bob, 'PublishKeyPackages', { keyPackages: [kp('one more')] })).rejects(t, Rejection.limitExceeded)
  given(active(bob)).when(byDevice(bob, 'PublishKeyPackages', { keyPackages: [...many, kp('33')] }))
    .rejects(t, Rejection.schema, 'payload.keyPackages: must have at most 32 items')
})

t.test('ClaimKeyPackages: oldest first, each once, then the last resort again and again', async (t) => {
  const s0 = given(active(alice, bob), published)
  const first = s0.when(claim())
  const claimed = (ref: string, lastResort: boolean) => ({
    type: 'KeyPackageClaimed' as const, stream: bobStream,
    payload: { userId: bob.userId, deviceId: bob.device.deviceId, ref, lastResort, claimedBy: alice.userId, claimedByDevice: alice.device.deviceId },
  })
  first.then(t, claimed(kp('b1').ref, false))
  const second = first.next.when(claim())
  second.then(t, claimed(kp('b2').ref, false))
  const third = second.next.when(claim())
  third.then(t, claimed(kp('blr').ref, true))
  third.next.when(claim()).then(t, claimed(kp('blr').ref, true))
})

t.test('ClaimKeyPackages: rejections', async (t) => {
  const bob2 = newDevice('bob-2')
  given(active(alice, bob), deviceAdded(bob, bob2)).when(claim([{ userId: bob.userId, deviceId: bob2.deviceId }])).rejects(t, Rejection.noKeyPackage, bob2.deviceId)
  given(active(alice)).when(claim()).rejects(t, Rejection.userNotFound, 'payload.targets[0].userId')
  given(active(alice, bob, carol)).when(claim([{ userId: bob.userId, deviceId: carol.device.deviceId }])).rejects(t, Rejection.deviceNotFound)
  const revoked = ev(bobStream, 'DeviceRevoked', { userId: bob.userId, deviceId: bob.device.deviceId, reason: 'user' })
  given(active(alice, bob), published, revoked).when(claim()).rejects(t, Rejection.deviceRevoked)
  given(registered(alice), active(bob), published).when(claim()).rejects(t, Rejection.emailUnverified)
  const gone = ev(bobStream, 'AccountDeleted', { userId: bob.userId, by: bob.userId })
  given(active(alice, bob), published, gone).when(claim()).rejects(t, Rejection.userDeleted)
  const off = ev(bobStream, 'UserDisabled', { userId: bob.userId, by: alice.userId })
  given(active(alice, bob), published, off).when(claim()).rejects(t, Rejection.userDisabled)
})

t.test('SubmitMlsCommit: the first commit for an epoch wins', async (t) => {
  const s0 = given(active(alice, bob, carol), threadCreated('project', alice, [bob]))
  const commit = (u: typeof alice, epoch: number, label: string, welcome?: string) =>
    byDevice(u, 'SubmitMlsCommit', { threadId: T, epoch, commit: cipher(`commit:${label}`, 200), ...(welcome ? { welcome } : {}) })
  const first = s0.when(commit(alice, 0, 'a0', cipher('welcome', 300)))
  const { state } = first.then(t, {
    type: 'MlsCommitAccepted', stream: `thread:${T}`,
    payload: { threadId: T, epoch: 0, commit: cipher('commit:a0', 200), welcome: cipher('welcome', 300), userId: alice.userId, deviceId: alice.device.deviceId },
  })
  t.equal(state.threads.get(T)!.epoch, 1, 'the group moved to epoch 1')
  first.next.when(commit(bob, 0, 'b0')).rejects(t, Rejection.mlsEpochTaken, 'epoch 0 was already accepted')
  first.next.when(commit(bob, 1, 'b1')).then(t, { type: 'MlsCommitAccepted' })
  s0.when(commit(bob, 1, 'b1')).rejects(t, Rejection.mlsEpochAhead)
  s0.when(commit(carol, 0, 'c0')).rejects(t, Rejection.notMember)
  // a message in the new epoch is accepted only once the commit is in
  const post = byDevice(bob, 'PostMessage', { threadId: T, epoch: 1, ciphertext: cipher('m'), attachments: [] })
  s0.when(post).rejects(t, Rejection.mlsEpochAhead)
  first.next.when(post).then(t, { type: 'MessagePosted' })
})
