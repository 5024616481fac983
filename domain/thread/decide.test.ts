import t from 'tap'
import { limits } from '../limits.ts'
import { Rejection } from '../rejections.ts'
import { active, b64From, byDevice, cipher, ev, groupId, registered, T0, threadCreated, threadId, user } from '../testing/fixtures.ts'
import { given } from '../testing/spec.ts'

const alice = user('alice')
const bob = user('bob')
const carol = user('carol')
const dave = user('dave')
const T = threadId('project')
const tStream = `thread:${T}`
const everyone = active(alice, bob, carol, dave)
const project = threadCreated('project', alice, [bob, carol])

t.test('CreateThread', async (t) => {
  const create = byDevice(alice, 'CreateThread', { threadId: T, groupId: groupId('project'), encryptedName: cipher('name:project'), members: [bob.userId, carol.userId] })
  t.test('accepted: the creator and the invited users are members', async (t) => {
    const { state } = given(everyone).when(create).then(t, {
      type: 'ThreadCreated',
      stream: tStream,
      payload: { threadId: T, groupId: groupId('project'), encryptedName: cipher('name:project'), creator: alice.userId, members: [alice.userId, bob.userId, carol.userId] },
    })
    t.same(state.users.get(bob.userId)!.threads, [T])
    t.equal(state.threads.get(T)!.owner, alice.userId)
  })
  t.test('rejected: unverified creator', async (t) => {
    given(registered(alice), active(bob, carol)).when(create).rejects(t, Rejection.emailUnverified)
  })
  t.test('rejected: thread id or group id taken', async (t) => {
    given(everyone, project).when(create).rejects(t, Rejection.threadExists, T)
    const sameGroup = byDevice(alice, 'CreateThread', { threadId: threadId('other'), groupId: groupId('project'), encryptedName: cipher('n'), members: [] })
    given(everyone, project).when(sameGroup).rejects(t, Rejection.groupExists)
  })
  t.test('rejected: creator listed, unknown, deleted or disabled member', async (t) => {
    const withSelf = byDevice(alice, 'CreateThread', { threadId: T, groupId: groupId('project'), encryptedName: cipher('n'), members: [bob.userId, alice.userId] })
    given(everyone).when(withSelf).rejects(t, Rejection.alreadyMember, 'payload.members[1]')
    given(active(alice, bob)).when(create).rejects(t, Rejection.userNotFound, 'payload.members[1]')
    const gone = ev(`user:${carol.userId}`, 'AccountDeleted', { userId: carol.userId, by: carol.userId })
    given(everyone, gone).when(create).rejects(t, Rejection.userDeleted, carol.userId)
    const off = ev(`user:${bob.userId}`, 'UserDisabled', { userId: bob.userId, by: alice.userId })
    given(everyone, off).when(create).rejects(t, Rejection.userDisabled, bob.userId)
  })
  t.test('rejected: duplicate members fail the schema naming the field', async (t) => {
    const dup = byDevice(alice, 'CreateThread', { threadId: T, groupId: groupId('project'), encryptedName: cipher('n'), members: [bob.userId, bob.userId] })
    given(everyone).when(dup).rejects(t, Rejection.schema, 'payload.members')
  })
})

t.test('RenameThread', async (t) => {
  const rename = (u = bob) => byDevice(u, 'RenameThread', { threadId: T, encryptedName: cipher('new name') })
  given(everyone, project).when(rename()).then(t, { type: 'ThreadRenamed', payload: { threadId: T, encryptedName: cipher('new name'), by: bob.userId } })
  given(everyone, project).when(rename(dave)).rejects(t, Rejection.notMember)
  given(everyone).when(rename()).rejects(t, Rejection.threadNotFound)
})

t.test('AddMember: owner only', async (t) => {
  const add = (by = alice, who = dave) => byDevice(by, 'AddMember', { threadId: T, userId: who.userId })
  given(everyone, project).when(add()).then(t, { type: 'MemberAdded', payload: { threadId: T, userId: dave.userId, by: alice.userId } })
  given(everyone, project).when(add(bob)).rejects(t, Rejection.notOwner)
  given(everyone, project).when(add(dave)).rejects(t, Rejection.notMember)
  given(everyone, project).when(add(alice, bob)).rejects(t, Rejection.alreadyMember)
  given(active(alice, bob, carol)).and(T0 + 500, project).when(add()).rejects(t, Rejection.userNotFound)
  given(everyone).when(add()).rejects(t, Rejection.threadNotFound)
})

t.test('RemoveMember: owner only, not yourself', async (t) => {
  const remove = (by = alice, who = carol) => byDevice(by, 'RemoveMember', { threadId: T, userId: who.userId })
  const { state } = given(everyone, project).when(remove()).then(t, {
    type: 'MemberRemoved', payload: { threadId: T, userId: carol.userId, by: alice.userId, reason: 'removed' },
  })
  t.same(state.threads.get(T)!.members.map((m) => m.userId), [alice.userId, bob.userId], 'carol is gone')
  t.same(state.users.get(carol.userId)!.threads, [], 'carol no longer lists the thread')
  given(everyone, project).when(remove(bob)).rejects(t, Rejection.notOwner)
  given(everyone, project).when(remove(alice, alice)).rejects(t, Rejection.invalidArgument, 'LeaveThread')
  given(everyone, project).when(remove(alice, dave)).rejects(t, Rejection.notMember, dave.userId)
})

t.test('LeaveThread: ownership passes to the longest-standing member', async (t) => {
  const leave = (u: typeof alice) => byDevice(u, 'LeaveThread', { threadId: T })
  given(everyone, project).when(leave(bob)).then(t, { type: 'MemberLeft', payload: { threadId: T, userId: bob.userId } })
  const { state } = given(everyone, project).when(leave(alice)).then(t,
    { type: 'MemberLeft', payload: { threadId: T, userId: alice.userId } },
    { type: 'ThreadOwnerChanged', payload: { threadId: T, owner: bob.userId } })
  t.equal(state.threads.get(T)!.owner, bob.userId)
  given(everyone, project).when(leave(dave)).rejects(t, Rejection.notMember)
})

t.test('HideThread / UnhideThread: per user, others keep the thread', async (t) => {
  const hide = byDevice(bob, 'HideThread', { threadId: T })
  const hidden = given(everyone, project).when(hide)
  const { state } = hidden.then(t, { type: 'ThreadHidden', stream: `user:${bob.userId}`, payload: { userId: bob.userId, threadId: T } })
  const members = state.threads.get(T)!.members
  t.same(members.map((m) => [m.userId, m.hidden]), [[alice.userId, false], [bob.userId, true], [carol.userId, false]])
  hidden.next.when(byDevice(bob, 'HideThread', { threadId: T })).rejects(t, Rejection.noChange, 'already hidden')
  hidden.next.when(byDevice(bob, 'UnhideThread', { threadId: T })).then(t, { type: 'ThreadUnhidden', payload: { userId: bob.userId, threadId: T } })
  given(everyone, project).when(byDevice(bob, 'UnhideThread', { threadId: T })).rejects(t, Rejection.noChange, 'not hidden')
  given(everyone, project).when(byDevice(dave, 'HideThread', { threadId: T })).rejects(t, Rejection.notMember)
})

t.test('MarkRead: only forward, only up to the ledger end', async (t) => {
  const scenario = given(everyone, project)
  const end = scenario.state.nextPosition
  const read = scenario.when(byDevice(bob, 'MarkRead', { threadId: T, position: end - 1 }))
  read.then(t, { type: 'ReadMarked', stream: `user:${bob.userId}`, payload: { userId: bob.userId, threadId: T, position: end - 1 } })
  read.next.when(byDevice(bob, 'MarkRead', { threadId: T, position: end - 2 })).rejects(t, Rejection.noChange)
  scenario.when(byDevice(bob, 'MarkRead', { threadId: T, position: end })).rejects(t, Rejection.positionAhead)
  scenario.when(byDevice(dave, 'MarkRead', { threadId: T, position: 0 })).rejects(t, Rejection.notMember)
})

t.test('limits: members per thread, threads per user', async (t) => {
  const extras = Array.from({ length: limits.threadMembersMax - 1 }, (_, i) => b64From(`extra-user:${i}`, 32))
  const registrations = extras.map((userId, i) => ev(`user:${userId}`, 'UserRegistered', {
    userId, username: `extra${i}`, identityPublicKey: b64From(`extra-key:${i}`, 64), encryptedEmail: b64From(`extra-mail:${i}`, 40),
  }))
  const full = ev(tStream, 'ThreadCreated', { threadId: T, groupId: groupId('project'), encryptedName: cipher('n'), creator: alice.userId, members: [alice.userId, ...extras] })
  given(everyone, registrations, full).when(byDevice(alice, 'AddMember', { threadId: T, userId: dave.userId }))
    .rejects(t, Rejection.limitExceeded, `${limits.threadMembersMax} members`)
  const many = Array.from({ length: limits.threadsPerUserMax }, (_, i) => ev(`thread:${threadId(`busy${i}`)}`, 'ThreadCreated', {
    threadId: threadId(`busy${i}`), groupId: groupId(`busy${i}`), encryptedName: cipher('n'), creator: dave.userId, members: [dave.userId],
  }))
  const busy = given(everyone, many)
  busy.when(byDevice(alice, 'AddMember', { threadId: threadId('busy0'), userId: dave.userId })).rejects(t, Rejection.notMember)
  busy.and(T0 + 1, project).when(byDevice(alice, 'AddMember', { threadId: T, userId: dave.userId })).rejects(t, Rejection.limitExceeded, 'threads already')
  busy.when(byDevice(dave, 'CreateThread', { threadId: threadId('one more'), groupId: groupId('one more'), encryptedName: cipher('n'), members: [] }))
    .rejects(t, Rejection.limitExceeded, 'command.author')
})
