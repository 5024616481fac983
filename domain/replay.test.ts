// Property tests of the executor: seeded random sequences of valid and invalid commands.
// 1. Executing the same blocks twice gives identical outcomes and identical event bytes.
// 2. Replaying only the accepted commands (what blocks record) from genesis reproduces
//    the recorded events byte for byte: a rejected command leaves no trace.
// 3. Re-evolving the recorded events from genesis rebuilds the same state.
import t from 'tap'
import { toBase64url } from './encoding.ts'
import { CommandMemo } from './commandMemo.ts'
import { executeCommand, applyEvents, genesisState, precheckCommand, type ExecuteContext, type ExecuteResult } from './execute.ts'
import type { EventEnvelope } from './ledger/envelope.ts'
import { encodeEvent } from './ledger/event.ts'
import { seededRng, type Rng } from './ledger/testing/prng.ts'
import { limits } from './limits.ts'
import type { LedgerState } from './state.ts'
import { stateDigest } from './testing/digest.ts'
import {
  b64From, byDevice, byIdentity, byService, certificate, crypto, T0, testGenesis, user,
} from './testing/fixtures.ts'
import type { AttachmentType } from './message/commands.ts'

const people = ['alice', 'bob', 'carol', 'dave'].map(user)
const admin = people[0]!

type Executed = { readonly bytes: Uint8Array; readonly ctx: ExecuteContext }

/** Setup commands, signed once per process (SLH-DSA is slow): registration of everyone. */
const setup: Uint8Array[] = people.flatMap((u) => [
  byIdentity(u, 'RegisterUser', {
    username: u.name, identityPublicKey: toBase64url(u.identity.publicKey), encryptedEmail: u.encryptedEmail, device: certificate(u, u.device),
  }, { time: T0 }),
])

function outcomeBytes(r: ExecuteResult): string {
  if (r.kind === 'rejected') return `rejected ${r.code} ${r.reason}`
  return 'accepted ' + r.events.map((e) => toBase64url(crypto.sha3_256(encodeEvent(e)))).join(',')
}

/** Generates one random command from the current state (often valid, sometimes not). */
function randomCommand(rng: Rng, s: LedgerState, time: number, history: readonly Uint8Array[], counter: { n: number }): Uint8Array {
  const u = rng.pick(people)
  const threads = [...s.threads.values()]
  const thread = threads.length > 0 && rng.next() < 0.95 ? rng.pick(threads) : undefined
  const threadId = thread?.threadId ?? b64From(`missing-thread:${rng.int(3)}`, 16)
  const skew = rng.next() < 0.05 ? (rng.next() < 0.5 ? -1 : 1) * (limits.commandSkewMs + 1 + rng.int(1000)) : rng.int(2000) - 1000
  const o = { time: time + skew, id: b64From(`prop:${counter.n++}`, 16) }
  const other = rng.pick(people)
  const recent = thread ? [...thread.recent.keys()].map(Number) : []
  const messageId = recent.length > 0 && rng.next() < 0.9 ? rng.pick(recent) : rng.int(s.nextPosition + 3)
  const epoch = (thread?.epoch ?? 0) + (rng.next() < 0.1 ? 1 : 0)
  const roll = rng.int(100)
  if (roll < 3 && history.length > 0) return rng.pick(history) // a replay
  if (roll < 5 && history.length > 0) {
    const bytes = rng.pick(history).slice()
    bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8) // corruption
    return bytes
  }
  if (roll < 30) {
    const attachments = Array.from({ length: rng.int(3) }, () => ({
      blobId: Array.from(rng.bytes(32), (b) => b.toString(16).padStart(2, '0')).join(''),
      ciphertextBytes: 1 + rng.int(limits.attachmentPlainBytesMax),
      type: rng.pick(['PNG', 'JPEG', 'PDF', 'DOCX'] as const satisfies readonly AttachmentType[]),
    }))
    return byDevice(u, 'PostMessage', { threadId, epoch: rng.next() < 0.1 ? epoch : Math.max(0, epoch - rng.int(2)), ciphertext: b64From(`m${counter.n}`, 20 + rng.int(200)), attachments }, o)
  }
  if (roll < 38) {
    const members = people.filter((p) => p !== u && rng.next() < 0.5).map((p) => p.userId)
    const id = rng.next() < 0.9 ? b64From(`thread:${counter.n}`, 16) : threadId
    return byDevice(u, 'CreateThread', { threadId: id, groupId: b64From(`group:${counter.n}`, 32), encryptedName: b64From(`name${counter.n}`, 40), members }, o)
  }
  if (roll < 44) return byDevice(thread && rng.next() < 0.7 ? (people.find((p) => p.userId === thread.owner) ?? u) : u, rng.next() < 0.6 ? 'AddMember' : 'RemoveMember', { threadId, userId: other.userId }, o)
  if (roll < 47) return byDevice(u, 'LeaveThread', { threadId }, o)
  if (roll < 52) return byDevice(u, rng.next() < 0.6 ? 'HideThread' : 'UnhideThread', { threadId }, o)
  if (roll < 57) return byDevice(u, 'MarkRead', { threadId, position: rng.int(s.nextPosition + 2) }, o)
  if (roll < 62) return byDevice(u, 'EditMessage', { threadId, messageId, epoch, ciphertext: b64From(`e${counter.n}`, 30) }, o)
  if (roll < 66) return byDevice(u, 'DeleteMessage', { threadId, messageId }, o)
  if (roll < 71) return byDevice(u, 'ReactToMessage', { threadId, messageId, epoch, reaction: b64From(`r${counter.n}`, 24) }, o)
  if (roll < 77) return byDevice(u, 'SubmitMlsCommit', { threadId, epoch: Math.max(0, epoch - rng.int(2)), commit: b64From(`c${counter.n}`, 100) }, o)
  if (roll < 81) {
    const keyPackages = Array.from({ length: rng.int(3) }, (_, i) => ({ ref: b64From(`ref:${counter.n}:${i}`, 64), keyPackage: b64From(`kp:${counter.n}:${i}`, 200) }))
    return byDevice(u, 'PublishKeyPackages', rng.next() < 0.3 ? { keyPackages, lastResort: { ref: b64From(`lr:${counter.n}`, 64), keyPackage: b64From('lr', 200) } } : { keyPackages }, o)
  }
  if (roll < 86) return byDevice(u, 'ClaimKeyPackages', { targets: [{ userId: other.userId, deviceId: other.device.deviceId }] }, o)
  if (roll < 90) return byDevice(u, rng.pick(['EnrolTotp', 'RemoveTotp'] as const), {}, o)
  if (roll < 92) return byDevice(u, 'ChangeEmail', { encryptedEmail: b64From(`mail:${rng.int(4)}`, 50) }, o)
  if (roll < 95) {
    const target = s.users.get(other.userId)
    return byService('VerifyEmail', { userId: other.userId, encryptedEmailHash: target?.emailHash ?? b64From('x', 32) }, o)
  }
  if (roll < 98) return byDevice(rng.next() < 0.8 ? admin : u, rng.pick(['AdminDisableUser', 'AdminEnableUser'] as const), { userId: other.userId }, o)
  return byDevice(admin, 'AdminEditUser', { userId: other.userId, admin: rng.next() < 0.5 }, o)
}

type Run = { records: Executed[]; outcomes: string[]; state: LedgerState; events: EventEnvelope[] }

function execute(state: LedgerState, rec: Executed[], outcomes: string[], events: Run['events'], bytes: Uint8Array, height: number, time: number, memo?: CommandMemo): LedgerState {
  const ctx = { height, time, position: state.nextPosition }
  const r = executeCommand(state, bytes, ctx, crypto, memo)
  rec.push({ bytes, ctx })
  outcomes.push(outcomeBytes(r))
  if (r.kind === 'rejected') return state
  events.push(...r.events)
  return r.state
}

/** Generates and executes a random run; blocks of 1..8 commands, block time creeping forward. */
function generate(seed: number, commands: number): Run {
  const rng = seededRng(seed)
  const records: Executed[] = []
  const outcomes: string[] = []
  const events: Run['events'] = []
  let state = genesisState(testGenesis().genesis)
  let time = T0
  let height = 0
  for (const bytes of setup) state = execute(state, records, outcomes, events, bytes, height, time)
  const boot = byService('BootstrapAdmin', { userId: user('root').userId, username: 'root', identityPublicKey: toBase64url(user('root').identity.publicKey), encryptedEmail: user('root').encryptedEmail }, { time: T0, id: b64From('boot', 16) })
  state = execute(state, records, outcomes, events, boot, height, time)
  const grant = byDevice(admin, 'AdminEditUser', { userId: admin.userId, admin: true }, { time: T0, id: b64From('grant', 16) })
  state = execute(state, records, outcomes, events, grant, height, time) // rejected: alice is no admin yet
  for (const p of people) {
    state = execute(state, records, outcomes, events, byService('VerifyEmail', { userId: p.userId, encryptedEmailHash: p.emailHash }, { time: T0, id: b64From(`verify:${p.name}`, 16) }), height, time)
  }
  const counter = { n: 0 }
  const history: Uint8Array[] = []
  while (records.length < commands) {
    height++
    time += rng.int(120_000)
    const size = 1 + rng.int(8)
    for (let i = 0; i < size; i++) {
      const bytes = randomCommand(rng, state, time, history, counter)
      history.push(bytes)
      state = execute(state, records, outcomes, events, bytes, height, time)
    }
  }
  return { records, outcomes, state, events }
}

function rerun(records: readonly Executed[], memo?: CommandMemo): Run {
  const outcomes: string[] = []
  const events: Run['events'] = []
  const rec: Executed[] = []
  let state = genesisState(testGenesis().genesis)
  for (const r of records) state = execute(state, rec, outcomes, events, r.bytes, r.ctx.height, r.ctx.time, memo)
  return { records: rec, outcomes, state, events }
}

for (const seed of [1, 2]) {
  t.test(`seed ${seed}`, async (t) => {
    const first = generate(seed, 320)
    const accepted = first.outcomes.filter((o) => o.startsWith('accepted')).length
    t.ok(accepted > first.outcomes.length * 0.25 && accepted < first.outcomes.length * 0.9, `a mix of outcomes: ${accepted} of ${first.outcomes.length} accepted`)
    const codes = new Set(first.outcomes.filter((o) => o.startsWith('rejected')).map((o) => o.split(' ')[1]))
    t.ok(codes.size >= 8, `many rejection codes seen: ${[...codes].join(' ')}`)

    const second = rerun(first.records)
    t.same(second.outcomes, first.outcomes, 'executing the same blocks again gives the same outcomes')
    t.same(second.events.map(encodeEvent), first.events.map(encodeEvent), 'and byte-identical events')
    t.equal(stateDigest(second.state, crypto), stateDigest(first.state, crypto), 'and the same state')

    // a block records only accepted commands; replaying those must reproduce every event
    const onlyAccepted = first.records.filter((_, i) => first.outcomes[i]!.startsWith('accepted'))
    const replay = rerun(onlyAccepted)
    t.ok(replay.outcomes.every((o) => o.startsWith('accepted')), 'every recorded command is accepted again')
    t.same(replay.events.map(encodeEvent), first.events.map(encodeEvent), 'replay from genesis reproduces the recorded events byte for byte')

    // A replica remembers parses and signatures (CommandMemo): checked ahead on the state
    // before, then executed, replays and bit flips among them, with a small memo that fills up.
    // Every outcome, event byte and the state must be exactly what the plain executor gives.
    const memo = new CommandMemo({ countMax: 40, bytesMax: 64 * 1024, staleMs: 60_000 })
    const ahead = genesisState(testGenesis().genesis)
    for (const r of first.records.slice(0, 60)) precheckCommand(ahead, r.bytes, r.ctx.time, crypto, memo)
    const remembered = rerun(first.records, memo)
    t.same(remembered.outcomes, first.outcomes, 'with a command memo: the same outcomes')
    t.same(remembered.events.map(encodeEvent), first.events.map(encodeEvent), 'with a command memo: byte-identical events')
    t.equal(stateDigest(remembered.state, crypto), stateDigest(first.state, crypto), 'with a command memo: the same state')
    t.ok(memo.hits > 0 && memo.misses > 0 && memo.size <= 40, `memo used and bounded: ${memo.hits} hits, ${memo.misses} misses, ${memo.size} kept`)
    const again = rerun(first.records, memo)
    t.same(again.outcomes, first.outcomes, 'a second pass over a warm memo: the same outcomes')

    const rebuilt = applyEvents(genesisState(testGenesis().genesis), first.events, crypto)
    t.equal(stateDigest(rebuilt, crypto), stateDigest(first.state, crypto), 're-evolving the recorded events rebuilds the same state')
    t.ok(first.state.recentCommands.ids.size < 200, `replay memory stays bounded: ${first.state.recentCommands.ids.size} ids`)
  })
}
