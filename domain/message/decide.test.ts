import t from 'tap'
import { limits } from '../limits.ts'
import { Rejection } from '../rejections.ts'
import { active, byDevice, cipher, DAY_MS, registered, threadCreated, threadId, user, WHEN } from '../testing/fixtures.ts'
import { given } from '../testing/spec.ts'

const alice = user('alice')
const bob = user('bob')
const carol = user('carol')
const T = threadId('project')
const project = threadCreated('project', alice, [bob])
const attachment = { blobId: 'ab'.repeat(32), ciphertextBytes: 15 * 1024 * 1024 + 28, type: 'PDF' as const }
const post = (u = alice, o: { time?: number; epoch?: number } = {}) =>
  byDevice(u, 'PostMessage', { threadId: T, epoch: o.epoch ?? 0, ciphertext: cipher('hello'), attachments: [attachment] }, { time: o.time ?? WHEN })

const base = given(active(alice, bob, carol), project)
const posted = base.when(post())
const messageId = base.state.nextPosition

t.test('PostMessage', async (t) => {
  posted.then(t, {
    type: 'MessagePosted',
    stream: `thread:${T}`,
    payload: { threadId: T, messageId, userId: alice.userId, deviceId: alice.device.deviceId, epoch: 0, ciphertext: cipher('hello'), attachments: [attachment] },
  })
  base.when(post(carol)).rejects(t, Rejection.notMember)
  given(registered(alice), active(bob), project).when(post()).rejects(t, Rejection.emailUnverified)
  base.when(post(alice, { epoch: 1 })).rejects(t, Rejection.mlsEpochAhead, 'payload.epoch')
  given(active(alice)).when(post()).rejects(t, Rejection.threadNotFound)
})

t.test('PostMessage: attachment limits and types come from the schema', async (t) => {
  const big = { ...attachment, ciphertextBytes: limits.attachmentPlainBytesMax + limits.attachmentOverheadBytesMax + 1 }
  base.when(byDevice(alice, 'PostMessage', { threadId: T, epoch: 0, ciphertext: cipher('x'), attachments: [big] }))
    .rejects(t, Rejection.schema, 'payload.attachments[0].ciphertextBytes: must be at most')
  const exe = { ...attachment, type: 'EXE' } as unknown as typeof attachment
  base.when(byDevice(alice, 'PostMessage', { threadId: T, epoch: 0, ciphertext: cipher('x'), attachments: [exe] }))
    .rejects(t, Rejection.schema, 'payload.attachments[0].type: must be one of "PNG"')
  const eleven = Array.from({ length: limits.attachmentsPerMessageMax + 1 }, () => attachment)
  base.when(byDevice(alice, 'PostMessage', { threadId: T, epoch: 0, ciphertext: cipher('x'), attachments: eleven }))
    .rejects(t, Rejection.schema, 'payload.attachments: must have at most 10 items')
})

t.test('EditMessage: author only, recent messages only', async (t) => {
  const edit = (u = alice, o: { time?: number; id?: number } = {}) =>
    byDevice(u, 'EditMessage', { threadId: T, messageId: o.id ?? messageId, epoch: 0, ciphertext: cipher('edited') }, { time: o.time ?? WHEN })
  const after = posted.next
  after.when(edit()).then(t, {
    type: 'MessageEdited', payload: { threadId: T, messageId, userId: alice.userId, deviceId: alice.device.deviceId, epoch: 0, ciphertext: cipher('edited') },
  })
  after.when(edit(bob)).rejects(t, Rejection.notMessageAuthor)
  after.when(edit(carol)).rejects(t, Rejection.notMember)
  after.when(edit(alice, { id: messageId + 1 })).rejects(t, Rejection.messageNotFound, String(messageId + 1))
  const late = WHEN + limits.messageMutableWindowMs + 1
  after.when(edit(alice, { time: late })).rejects(t, Rejection.messageNotFound, '7 days')
})

t.test('DeleteMessage: author only; a deleted message cannot be edited', async (t) => {
  const del = (u = alice) => byDevice(u, 'DeleteMessage', { threadId: T, messageId })
  const deleted = posted.next.when(del())
  deleted.then(t, { type: 'MessageDeleted', payload: { threadId: T, messageId, userId: alice.userId } })
  deleted.next.when(byDevice(alice, 'EditMessage', { threadId: T, messageId, epoch: 0, ciphertext: cipher('again') })).rejects(t, Rejection.messageNotFound)
  deleted.next.when(del()).rejects(t, Rejection.messageNotFound)
  posted.next.when(del(bob)).rejects(t, Rejection.notMessageAuthor)
})

t.test('ReactToMessage: any member, encrypted reaction', async (t) => {
  const react = (u = bob) => byDevice(u, 'ReactToMessage', { threadId: T, messageId, epoch: 0, reaction: cipher('👍', 40) })
  posted.next.when(react()).then(t, {
    type: 'MessageReacted', payload: { threadId: T, messageId, userId: bob.userId, deviceId: bob.device.deviceId, epoch: 0, reaction: cipher('👍', 40) },
  })
  posted.next.when(react(carol)).rejects(t, Rejection.notMember)
  const big = byDevice(bob, 'ReactToMessage', { threadId: T, messageId, epoch: 0, reaction: cipher('x', limits.reactionBytesMax + 1) })
  posted.next.when(big).rejects(t, Rejection.schema, 'payload.reaction: must be at most')
})

t.test('the recent-message index stays bounded per thread', async (t) => {
  // posts over 9 days: only the last 7 days stay editable and indexed
  let s = base
  for (let day = 0; day < 9; day++) s = s.when(post(alice, { time: WHEN + day * DAY_MS })).next
  const thread = s.state.threads.get(T)!
  t.equal(thread.recent.size, 8, 'messages older than the window were dropped from the index')
})
