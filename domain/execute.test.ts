import t from 'tap'
import { commandBytes, signCommand } from './command.ts'
import { toBase64url } from './encoding.ts'
import { decode, encode } from './ledger/codec.ts'
import { limits } from './limits.ts'
import { Rejection } from './rejections.ts'
import { active, byDevice, byService, cipher, crypto, DAY_MS, ev, serviceKey, threadCreated, threadId, user, WHEN } from './testing/fixtures.ts'
import { given } from './testing/spec.ts'

const alice = user('alice')
const bob = user('bob')
const T = threadId('t')
const base = given(active(alice, bob), threadCreated('t', alice, [bob]))
const post = (o: { time?: number; id?: string } = {}) =>
  byDevice(alice, 'PostMessage', { threadId: T, epoch: 0, ciphertext: cipher('hi'), attachments: [] }, o)

t.test('bytes: size, canonical encoding, known type', async (t) => {
  base.when(new Uint8Array(limits.commandBytesMax + 1)).rejects(t, Rejection.tooLarge, `${limits.commandBytesMax}`)
  base.when(new Uint8Array([0xa1, 0x61, 0x61, 0x18, 0x01]), { time: WHEN }).rejects(t, Rejection.nonCanonical, 'non-shortest')
  const v = decode(post()) as { command: Record<string, unknown>; signature: string }
  const unknown = encode({ ...v, command: { ...v.command, type: 'LaunchMissiles' } } as never)
  base.when(unknown).rejects(t, Rejection.schema, 'command.type: must be one of')
  const extra = encode({ ...v, extra: 1 } as never)
  base.when(extra).rejects(t, Rejection.schema, 'extra: is not an allowed field')
})

t.test('time: within the skew of the block time', async (t) => {
  base.when(post(), { time: WHEN + limits.commandSkewMs }).then(t, { type: 'MessagePosted' })
  base.when(post(), { time: WHEN + limits.commandSkewMs + 1 }).rejects(t, Rejection.clockSkew, 'command.time')
  base.when(post({ time: WHEN + 2 * limits.commandSkewMs + 1 }), { time: WHEN + limits.commandSkewMs }).rejects(t, Rejection.clockSkew)
})

t.test('replay: the same command id is refused, and forgotten only when its time check fails anyway', async (t) => {
  const cmd = post()
  const once = base.when(cmd)
  once.next.when(cmd).rejects(t, Rejection.duplicateCommand, 'already executed')
  const sameId = post({ id: (decode(cmd) as { command: { id: string } }).command.id })
  once.next.when(sameId).rejects(t, Rejection.duplicateCommand)
  // much later: the replay fails on time, and the id no longer takes memory
  let s = once.next
  const id = (decode(cmd) as { command: { id: string } }).command.id
  for (let i = 1; i <= 12; i++) s = s.when(post({ time: WHEN + i * 60_000 })).next
  t.equal(s.state.recentCommands.ids.has(id), false, 'forgotten after 2 × skew')
  t.ok(s.state.recentCommands.ids.size <= 11, `ids kept: ${s.state.recentCommands.ids.size}`)
  s.when(cmd, { time: WHEN + 12 * 60_000 }).rejects(t, Rejection.clockSkew)
})

t.test('signer: the key must exist, belong to the author and verify', async (t) => {
  const stranger = user('stranger')
  base.when(byDevice(stranger, 'EnrolTotp', {})).rejects(t, Rejection.userNotFound, 'command.author')
  base.when(byDevice(alice, 'EnrolTotp', {}, { device: bob.device })).rejects(t, Rejection.unknownKey, 'command.keyId')
  const v = decode(post()) as { command: { payload: Record<string, unknown> }; signature: string }
  const tampered = encode({ ...v, command: { ...v.command, payload: { ...v.command.payload, ciphertext: cipher('evil') } } } as never)
  base.when(tampered).rejects(t, Rejection.badSignature)
  const truncated = encode({ ...v, signature: v.signature.slice(0, 400) } as never)
  base.when(truncated).rejects(t, Rejection.badSignature)
  const revoked = ev(`user:${alice.userId}`, 'DeviceRevoked', { userId: alice.userId, deviceId: alice.device.deviceId, reason: 'user' })
  base.and(WHEN - 10, revoked).when(post()).rejects(t, Rejection.keyRevoked)
  base.when(post({ time: WHEN + 91 * DAY_MS })).rejects(t, Rejection.keyExpired)
  const deleted = ev(`user:${alice.userId}`, 'AccountDeleted', { userId: alice.userId, by: alice.userId })
  base.and(WHEN - 10, deleted).when(post()).rejects(t, Rejection.userDeleted)
})

t.test('service keys come from the genesis block', async (t) => {
  const command = { id: toBase64url(new Uint8Array(16)), type: 'VerifyEmail', author: 'service:rogue', signer: 'service', keyId: 'service:rogue', time: WHEN, payload: { userId: alice.userId, encryptedEmailHash: alice.emailHash } } as const
  base.when(commandBytes(signCommand(command as never, serviceKey().secretKey, 'service', crypto))).rejects(t, Rejection.unknownKey, 'service:rogue')
  const mismatch = { ...command, author: 'service:web', keyId: 'service:other' }
  base.when(commandBytes(signCommand(mismatch as never, serviceKey().secretKey, 'service', crypto))).rejects(t, Rejection.wrongSigner)
  const bad = byService('VerifyEmail', { userId: alice.userId, encryptedEmailHash: alice.emailHash })
  const v = decode(bad) as { signature: string }
  base.when(encode({ ...(v as object), signature: toBase64url(new Uint8Array(3309)) } as never)).rejects(t, Rejection.badSignature)
})

t.test('a rejected command leaves the state it was given untouched', async (t) => {
  const before = base.state
  base.when(post({ time: WHEN + limits.commandSkewMs + 1 }), { time: WHEN })
  t.equal(base.state, before)
  t.equal(base.state.nextPosition, before.nextPosition)
})
