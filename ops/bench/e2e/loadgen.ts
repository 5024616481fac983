// The load generator of the e2e and soak benches, run as its own process (so its CPU is
// not the server's): simulated users with the client core (ApiClient, MLS), one ws each.
// Driven by the parent over IPC (protocol.ts):
//   setup    register + verify + log in every user, create one MLS group per thread
//            (CreateThread + SubmitMlsCommit through the real stack), connect the sockets;
//   prepare  pre-encrypt a phase's messages: real MLS PrivateMessages in the current epoch
//            (pure-JS MLS is ~10 ms per encrypt, too slow to do at 500 msg/s live);
//   run      sign fresh PostMessage commands for those ciphertexts (5-minute skew window),
//            send them open-loop at the phase's rate, record send/answer/ws-receive times;
//   check    a checker member per thread decrypts 1 in `sampleEvery` messages it received,
//            in ledger order (proves the ciphertexts are real, in the right epoch and order).
import WebSocket from 'ws'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { fromBase64url, toBase64url } from '../../../domain/encoding.ts'
import type { KeyFileKeys } from '../../../domain/keyfile.ts'
import { ApiClient } from '../../../web/client/core/api/client.ts'
import { buildCommand, buildRegisterUser, newAccountKeys, randomId } from '../../../web/client/core/api/commands.ts'
import { applyOwnCommit, processCommit, proposeAddMembers } from '../../../web/client/core/mls/commit.ts'
import { decodeContent, encodeContent } from '../../../web/client/core/mls/content.ts'
import { createGroup, exportRatchetTree, groupEpoch, joinFromWelcome, type Group } from '../../../web/client/core/mls/group.ts'
import { generateKeyPackages } from '../../../web/client/core/mls/keyPackages.ts'
import { createMember, type Member } from '../../../web/client/core/mls/member.ts'
import { decryptMessage, encryptMessage } from '../../../web/client/core/mls/message.ts'
import { encryptThreadName } from '../../../web/client/core/threadName.ts'
import type { CheckResult, FromLoadgen, MessageRecord, PhaseSpec, SetupSpec, ThreadInfo, ToLoadgen } from './protocol.ts'

const now = (): number => performance.timeOrigin + performance.now()
const password = 'bench password, long enough 42'

type User = {
  readonly name: string
  readonly keys: KeyFileKeys
  readonly api: ApiClient
  member: Member
  group: Group | null
  ws: WebSocket | null
  /** position → receive time, for the phase being run */
  readonly got: Map<number, number>
  /** sampled ciphertexts this user received (checker only), in arrival order */
  readonly samples: { position: number; ciphertext: string }[]
  readonly seen: number[] // every MessagePosted position received, arrival order (soak: order and duplicates)
}

type Thread = { readonly id: string; readonly size: number; readonly members: User[]; readonly checker: User }
type Prepared = { readonly sender: User; readonly thread: Thread; readonly ciphertext: string; readonly epoch: number; readonly seq: number; readonly round: number }

let url = ''
let users: User[] = []
let threads: Thread[] = []
const prepared = new Map<string, Prepared[]>()
let sampleEvery = 50
let duplicateArrivals = 0 // ws events for a position this user already had, this run
let recordSeen = false
const expected = new Map<number, string>() // position → the text prefix sent there (zixt runs)
/** position → the message to sample there: its thread, who sent it, as which message of the phase */
const sampleOf = new Map<number, { readonly threadId: string; readonly sender: string; readonly seq: number }>()

function send(m: FromLoadgen): void {
  process.send!(m)
}

async function register(name: string): Promise<User> {
  const api = new ApiClient({ baseUrl: url, cookieJar: true })
  const email = `${name}@bench.example`
  const { registrationId, encryptedEmail } = await api.registerBegin(email)
  const keys = newAccountKeys(crypto, name)
  await api.registerComplete({ registrationId, password, command: buildRegisterUser({ keys, username: name, encryptedEmail, now: Date.now(), crypto }) })
  // the parent's mailer follows the verification link as soon as the mail is sent
  let info = await api.login({ username: name, password, keys, crypto })
  for (let i = 0; i < 200 && !info.emailVerified; i++) {
    await new Promise((r) => setTimeout(r, 100))
    info = await api.getSession()
  }
  if (!info.emailVerified) throw new Error(`${name}: e-mail not verified`)
  const member = await createMember({ userId: keys.userId, deviceId: keys.deviceId })
  return { name, keys, api, member, group: null, ws: null, got: new Map(), samples: [], seen: [] }
}

async function inBatches<T, R>(items: readonly T[], width: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!, i)
    }
  }))
  return out
}

const ADD_PER_COMMIT = 20

async function makeThread(members: User[]): Promise<Thread> {
  const [owner, ...others] = members as [User, ...User[]]
  const threadId = randomId(crypto, 16)
  const groupIdBytes = crypto.randomBytes(32)
  let group = await createGroup(owner.member, groupIdBytes)
  const encryptedName = await encryptThreadName(crypto, group, threadId, `bench ${members.length}`)
  await owner.api.submit(buildCommand('CreateThread', { threadId, groupId: toBase64url(groupIdBytes), encryptedName, members: others.map((u) => u.keys.userId) }, owner.keys, Date.now(), crypto))
  // key packages go straight from each member to the owner (the claim path is the session's
  // job and not what this bench measures); the commit and Welcome go through the ledger
  const kps: Uint8Array[] = []
  for (const u of others) {
    const r = await generateKeyPackages(u.member, 1)
    u.member = r.member
    kps.push(r.packages[0]!.bytes)
  }
  // A commit is capped at limits.mlsHandshakeBytesMax (a PQ key package is ~15 kB): members
  // are added ADD_PER_COMMIT at a time, as the app does; those already in apply the later commits.
  const joined: User[] = []
  for (let from = 0; from < others.length; from += ADD_PER_COMMIT) {
    const chunk = others.slice(from, from + ADD_PER_COMMIT)
    const pending = await proposeAddMembers(group, kps.slice(from, from + ADD_PER_COMMIT), { ratchetTreeInWelcome: false })
    await owner.api.submit(buildCommand('SubmitMlsCommit', {
      threadId, epoch: Number(pending.epoch), commit: toBase64url(pending.commit),
      ...(pending.welcome === undefined ? {} : { welcome: toBase64url(pending.welcome) }),
    }, owner.keys, Date.now(), crypto))
    group = applyOwnCommit(group, pending)
    for (const u of joined) {
      const r = await processCommit(u.group!, pending.commit)
      if (r.kind !== 'applied') throw new Error(`${u.name}: removed by an add commit`)
      u.group = r.group
    }
    const tree = exportRatchetTree(group)
    for (const u of chunk) {
      const r = await joinFromWelcome(u.member, pending.welcome!, { ratchetTree: tree })
      u.member = r.member
      u.group = r.group
      joined.push(u)
    }
  }
  owner.group = group
  return { id: threadId, size: members.length, members, checker: members[members.length - 1]! }
}

const EVENT_HEAD = /^\{"type":"event","threadId":"([^"]*)","event":\{"position":(\d+),"type":"(\w+)"/

function connect(u: User): Promise<void> {
  return new Promise((resolve, reject) => {
    void u.api.wsTicket().then(({ ticket }) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/ws`, { origin: url, perMessageDeflate: false })
      u.ws = ws
      const timer = setTimeout(() => reject(new Error(`${u.name}: ws not ready`)), 30_000)
      ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', ticket })))
      ws.on('error', (e) => reject(e))
      ws.on('message', (data: Buffer) => {
        const at = now()
        const s = data.toString('utf8')
        const m = EVENT_HEAD.exec(s)
        if (m !== null) {
          if (m[3] !== 'MessagePosted') return
          const position = Number(m[2])
          if (recordSeen) u.seen.push(position)
          if (u.got.has(position)) {
            duplicateArrivals++ // the hub de-duplicates per socket: one here is a delivery bug
            return
          }
          u.got.set(position, at)
          if (sampleOf.get(position)?.threadId === m[1] && threads.find((t) => t.id === m[1])?.checker === u) {
            const j = JSON.parse(s) as { event: { payload: { ciphertext: string } } }
            u.samples.push({ position, ciphertext: j.event.payload.ciphertext })
          }
          return
        }
        if (s.startsWith('{"type":"ready"')) {
          clearTimeout(timer)
          resolve()
        }
      })
    }, reject)
  })
}

async function setup(spec: SetupSpec): Promise<ThreadInfo[]> {
  url = spec.url
  sampleEvery = spec.sampleEvery
  const names: string[] = []
  let k = 0
  for (const size of spec.threadSizes) for (let i = 0; i < size; i++) names.push(`${spec.tag}u${k++}`)
  const t0 = now()
  users = await inBatches(names, 4, (n) => register(n))
  send({ type: 'log', line: `${users.length} users registered, verified, logged in (${((now() - t0) / 1000).toFixed(1)} s)` })
  const t1 = now()
  let at = 0
  const groups: User[][] = spec.threadSizes.map((size) => { const g = users.slice(at, at + size); at += size; return g })
  threads = await inBatches(groups, 2, (g) => makeThread(g))
  send({ type: 'log', line: `${threads.length} MLS groups (${spec.threadSizes.join(', ')} members) created and joined (${((now() - t1) / 1000).toFixed(1)} s)` })
  await inBatches(users, 8, (u) => connect(u))
  return threads.map((t) => ({ threadId: t.id, size: t.size, epoch: Number(groupEpoch(t.members[0]!.group!)) }))
}

/** Round-robin over the threads of this size, and over the members of each thread. */
async function prepare(p: PhaseSpec): Promise<void> {
  const pool = threads.filter((t) => t.size === p.threadSize)
  if (pool.length === 0) throw new Error(`no thread of ${p.threadSize} members`)
  const out: Prepared[] = []
  const t0 = now()
  for (let i = 0; i < p.count; i++) {
    const thread = pool[i % pool.length]!
    const round = Math.floor(i / pool.length)
    const sender = thread.members[round % thread.members.length]!
    const text = `${p.id} #${i} from ${sender.name}: ${'lorem ipsum '.repeat(4)}`
    const { message, group } = await encryptMessage(sender.group!, encodeContent({ kind: 'text', text }))
    sender.group = group
    out.push({ sender, thread, ciphertext: toBase64url(message), epoch: Number(groupEpoch(group)), seq: i, round })
  }
  prepared.set(p.id, out)
  send({ type: 'log', line: `phase ${p.id}: ${p.count} messages pre-encrypted in ${((now() - t0) / 1000).toFixed(1)} s (${((now() - t0) / Math.max(1, p.count)).toFixed(1)} ms each)` })
}

async function run(p: PhaseSpec, label: string): Promise<{ records: MessageRecord[]; inversions: number }> {
  const msgs = prepared.get(p.id)
  if (msgs === undefined) throw new Error(`phase ${p.id} not prepared`)
  for (const u of users) u.got.clear()
  duplicateArrivals = 0
  recordSeen = p.recordOrder === true
  // sign before the clock starts: ~1 ms of ML-DSA-65 per command
  const sign = (m: Prepared) => buildCommand('PostMessage', { threadId: m.thread.id, epoch: m.epoch, ciphertext: m.ciphertext, attachments: [] }, m.sender.keys, Date.now(), crypto)
  // soak: sign at send time (a long run outlives the 5-minute clock-skew window)
  const cmds = p.signLive === true ? [] : msgs.map(sign)
  const records: MessageRecord[] = msgs.map((m, i) => ({ seq: i, threadId: m.thread.id, sender: m.sender.keys.userId, commandId: cmds[i]?.command.id ?? '', sentAt: 0, answeredAt: 0, position: -1, error: null, received: [] }))
  const inFlightMax = p.inFlightMax ?? 4000
  let inFlight = 0
  let throttled = 0
  const pending: Promise<void>[] = []
  const t0 = now()
  let next = 0
  const deadline = t0 + (p.count / p.rate) * 1000 * 3 + 30_000
  while (next < msgs.length && now() < deadline) {
    const due = Math.min(msgs.length, Math.floor(((now() - t0) / 1000) * p.rate) + 1)
    for (; next < due; next++) {
      if (inFlight >= inFlightMax) { throttled++; break }
      const i = next
      const r = records[i]!
      const m = msgs[i]!
      inFlight++
      r.sentAt = now()
      const cmd = cmds[i] ?? sign(m)
      r.commandId = cmd.command.id
      pending.push(m.sender.api.submit(cmd).then((res) => {
        r.answeredAt = now()
        const ev = res.events.find((e) => e.type === 'MessagePosted')
        r.position = ev?.position ?? -1
        if (label === 'zixt' && r.position >= 0) {
          expected.set(r.position, `${p.id} #${i} `)
          if (m.thread.checker !== m.sender && m.round % sampleEvery === 0) sampleOf.set(r.position, { threadId: m.thread.id, sender: m.sender.name, seq: i })
        }
      }, (e: unknown) => {
        r.answeredAt = now()
        r.error = (e as { code?: string }).code ?? String(e)
      }).finally(() => { inFlight-- }))
    }
    await new Promise((res) => setTimeout(res, 2))
  }
  await Promise.all(pending)
  const sentMs = now() - t0
  // drain: wait until every member got every accepted message, at most drainMs
  const drainEnd = now() + (p.drainMs ?? 20_000)
  const complete = (): boolean => records.every((r) => r.position < 0 || msgs[r.seq]!.thread.members.every((u) => u === msgs[r.seq]!.sender || u.got.has(r.position)))
  while (!complete() && now() < drainEnd) await new Promise((res) => setTimeout(res, 20))
  for (const r of records) {
    if (r.position < 0) continue
    const m = msgs[r.seq]!
    for (const u of m.thread.members) if (u !== m.sender) r.received.push(u.got.get(r.position) ?? -1)
  }
  let inversions = 0
  for (const u of users) {
    let last = -1
    for (const pos of u.got.keys()) { if (pos < last) inversions++; last = pos }
  }
  send({ type: 'log', line: `${label} ${p.id}: ${msgs.length} sent in ${(sentMs / 1000).toFixed(1)} s${throttled > 0 ? ` (sender held back ${throttled} times at ${inFlightMax} in flight)` : ''}; ws arrivals out of position order: ${inversions}, of a position already received: ${duplicateArrivals}` })
  recordSeen = false
  return { records, inversions }
}

/** The checker of each thread decrypts its sampled ciphertexts in ledger order. */
async function check(): Promise<CheckResult> {
  let decrypted = 0
  let failed = 0
  let reordered = 0
  const problems: string[] = []
  for (const t of threads) {
    const u = t.checker
    const list = [...u.samples].sort((a, b) => a.position - b.position)
    u.samples.length = 0
    const lastSent = new Map<string, { seq: number; position: number }>() // sender → the latest-sent sample decrypted so far
    for (const s of list) {
      const as = sampleOf.get(s.position)
      const before = as === undefined ? undefined : lastSent.get(as.sender)
      if (as !== undefined && (before === undefined || as.seq > before.seq)) lastSent.set(as.sender, { seq: as.seq, position: s.position })
      try {
        const res = await decryptMessage(u.group!, fromBase64url(s.ciphertext))
        u.group = res.group
        const c = decodeContent(res.plaintext)
        const want = expected.get(s.position)
        if (c.kind !== 'text' || want === undefined || !c.text.startsWith(want)) problems.push(`thread ${t.id}: position ${s.position} decrypts to another message than was sent there`)
        decrypted++
      } catch (e) {
        // The checker decrypts in ledger order; a sender's later message committed first (its
        // requests overtake each other under load) has moved the ratchet past this one's key.
        const overtaken = as !== undefined && before !== undefined && before.seq > as.seq
        if (overtaken) reordered++
        else failed++
        const why = overtaken ? ` (sent as #${as.seq}, before #${before.seq} of the same sender, which the ledger holds first, at ${before.position})` : ''
        if (problems.length < 5) problems.push(`thread ${t.id} position ${s.position}: ${(e as Error).message}${why}`)
      }
    }
  }
  sampleOf.clear()
  expected.clear()
  return { decrypted, failed, reordered, problems }
}

/** Soak: every member's sequence of received positions per thread. */
function orders(): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {}
  for (const t of threads) {
    out[t.id] = {}
    for (const u of t.members) out[t.id]![u.keys.userId] = [...u.seen]
  }
  return out
}

process.on('message', (raw) => {
  const m = raw as ToLoadgen
  void (async () => {
    try {
      if (m.type === 'setup') send({ type: 'setupDone', threads: await setup(m.spec) })
      else if (m.type === 'prepare') { await prepare(m.phase); send({ type: 'prepared', id: m.phase.id }) }
      else if (m.type === 'run') send({ type: 'ran', id: m.phase.id, label: m.label, ...(await run(m.phase, m.label)) })
      else if (m.type === 'check') send({ type: 'checked', result: await check() })
      else if (m.type === 'resetOrders') { for (const u of users) u.seen.length = 0; send({ type: 'orders', orders: {} }) }
      else if (m.type === 'getOrders') send({ type: 'orders', orders: orders() })
      else if (m.type === 'exit') {
        for (const u of users) u.ws?.close()
        setTimeout(() => process.exit(0), 100)
      }
    } catch (e) {
      send({ type: 'error', message: (e as Error).stack ?? String(e) })
    }
  })()
})
send({ type: 'hello' })
