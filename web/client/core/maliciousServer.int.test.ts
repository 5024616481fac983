// The client core against a server that lies. The ledger, read model and ws are real; the
// client's ApiClient is subclassed per user so chosen answers are forged, as a compromised
// server would forge them. What must hold: the server never gets a device into a group, never
// swaps a member's key package, and cannot move a Welcome from one thread into another.
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { fromBase64url, toBase64url } from '../../../domain/encoding.ts'
import { signDeviceCertificate, signMlsKeyCertificate } from '../../../domain/identity.ts'
import type { KeyFileKeys } from '../../../domain/keyfile.ts'
import { ApiClient, ApiError, type Committed, type DeviceInfo, type MlsCommit, type ThreadSummary, type UserPublic } from './api/client.ts'
import { buildCommand, newAccountKeys, type SignedCommandJson } from './api/commands.ts'
import { proposeAddMembers } from './mls/commit.ts'
import { createGroup, joinFromWelcome } from './mls/group.ts'
import { generateKeyPackages } from './mls/keyPackages.ts'
import { certifyMember, createMember, mlsSignaturePublicKey, type Member } from './mls/member.ts'
import { peekMessage } from './mls/wire.ts'
import { Session } from './session.ts'
import { memoryKv } from './store/kv.ts'
import { openVault } from './store/vault.ts'
import { registerTestUser, startStack, testSlowOps, type Stack } from '../e2e/stack.ts'

// A stack per test: registrations are rate limited per hour, and each test needs its own users.
let stack: Stack
let sessions: Session[] = []
async function freshStack(t: Test): Promise<void> {
  const s = await startStack()
  stack = s
  t.teardown(async () => {
    for (const x of sessions) x.close() // open sockets would hold the server's shutdown
    sessions = []
    await s.stop()
  })
}

const slow = testSlowOps

/** Forged answers: each hook gets the real call and may answer otherwise. */
type Hooks = {
  user?: (userId: string, real: () => Promise<UserPublic>) => Promise<UserPublic>
  submit?: (command: SignedCommandJson, real: (c: SignedCommandJson) => Promise<Committed>) => Promise<Committed>
  keyPackage?: (deviceId: string, ref: string, real: () => ReturnType<ApiClient['keyPackage']>) => ReturnType<ApiClient['keyPackage']>
  threads?: (o: { hidden?: boolean }, real: () => Promise<{ threads: ThreadSummary[] }>) => Promise<{ threads: ThreadSummary[] }>
  thread?: (threadId: string, real: () => Promise<ThreadSummary>) => Promise<ThreadSummary>
  mlsCommits?: (threadId: string, o: { fromEpoch?: number; limit?: number }, real: () => Promise<{ commits: MlsCommit[] }>) => Promise<{ commits: MlsCommit[] }>
}

class LyingApi extends ApiClient {
  hooks: Hooks = {}
  override user(userId: string) {
    const real = () => super.user(userId)
    return this.hooks.user === undefined ? real() : this.hooks.user(userId, real)
  }
  override submit(command: SignedCommandJson) {
    const real = (c: SignedCommandJson) => super.submit(c)
    return this.hooks.submit === undefined ? real(command) : this.hooks.submit(command, real)
  }
  override keyPackage(deviceId: string, ref: string) {
    const real = () => super.keyPackage(deviceId, ref)
    return this.hooks.keyPackage === undefined ? real() : this.hooks.keyPackage(deviceId, ref, real)
  }
  override threads(o: { hidden?: boolean } = {}) {
    const real = () => super.threads(o)
    return this.hooks.threads === undefined ? real() : this.hooks.threads(o, real)
  }
  override thread(threadId: string) {
    const real = () => super.thread(threadId)
    return this.hooks.thread === undefined ? real() : this.hooks.thread(threadId, real)
  }
  override mlsCommits(threadId: string, o: { fromEpoch?: number; limit?: number } = {}) {
    const real = () => super.mlsCommits(threadId, o)
    return this.hooks.mlsCommits === undefined ? real() : this.hooks.mlsCommits(threadId, o, real)
  }
}

type User = { session: Session; api: LyingApi; keys: KeyFileKeys }

/** A registered user with an open session (key packages published), not yet started. */
async function user(username: string): Promise<User> {
  const api = new LyingApi({ baseUrl: stack.url, cookieJar: true })
  const { keys, info, keyFile } = await registerTestUser(stack, username, api)
  const { vault } = openVault(memoryKv(), crypto, { v: 1, username, userId: keys.userId, deviceId: keys.deviceId, keyFile, wrappedVaultKey: null }, keys)
  const session = await Session.open({
    api, crypto, vault, slow, keys, info, wsUrl: stack.url.replace('http', 'ws') + '/api/ws',
    openSocket: (url) => new WebSocket(url, { origin: stack.url }) as never,
  })
  sessions.push(session)
  return { session, api, keys }
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The thread Alice's session knows that is not in `except`. */
function newThreadOf(s: Session, except: readonly string[]): string | undefined {
  return [...s.threads.keys()].find((id) => !except.includes(id))
}

/**
 * The server's own device "of" `userId`: a real ML-DSA-65 key certified by an SLH-DSA key
 * that is not the user's identity key, and an MLS member whose credential it certifies.
 */
async function forgedDevice(userId: string): Promise<{ device: DeviceInfo; member: Member }> {
  const forger = newAccountKeys(crypto, 'forger')
  const issuedAt = Date.now()
  const cert = signDeviceCertificate({ userId, deviceId: forger.deviceId, devicePublicKey: forger.device.publicKey, issuedAt, identitySecretKey: forger.identity.secretKey }, crypto)
  const member = await createMember({ userId, deviceId: forger.deviceId })
  const signature = signMlsKeyCertificate(
    { userId, deviceId: forger.deviceId, mlsSignaturePublicKey: mlsSignaturePublicKey(member), issuedAt, deviceSecretKey: forger.device.secretKey },
    crypto,
  )
  const device: DeviceInfo = { deviceId: cert.deviceId, publicKey: cert.publicKey, keyVersion: 0, issuedAt, certificate: cert.certificate, status: 'active' }
  return { device, member: certifyMember(member, { issuedAt, signature }) }
}

t.test('the server lists an extra device for Bob, certified by a key that is not his identity key', async (t) => {
  await freshStack(t)
  const [alice, bob] = await Promise.all([user('alice1'), user('bob1')])
  const forged = await forgedDevice(bob.keys.userId)
  const fake = forged.device
  const generated = await generateKeyPackages(forged.member, 1)
  const member = generated.member
  const fakePackage = generated.packages[0]!
  const fakeRef = toBase64url(fakePackage.ref)

  let fakeClaimed = false
  alice.api.hooks = {
    async user(userId, real) {
      const u = await real()
      if (userId !== bob.keys.userId) return u
      return { ...u, devices: [...u.devices, fake] }
    },
    async submit(command, real) {
      const c = command as unknown as { command: { type: string; payload: { targets?: { userId: string; deviceId: string }[] } } }
      const targets = c.command.payload.targets
      if (c.command.type !== 'ClaimKeyPackages' || targets === undefined || !targets.some((x) => x.deviceId === fake.deviceId)) return real(command)
      // The ledger does not know the device: the server claims the rest for real and forges the fake device's claim.
      fakeClaimed = true
      const rest = targets.filter((x) => x.deviceId !== fake.deviceId)
      const res = await real(buildCommand('ClaimKeyPackages', { targets: rest }, alice.keys, Date.now(), crypto) as unknown as SignedCommandJson)
      const claimed = { ...res.events[0]!, type: 'KeyPackageClaimed', payload: { userId: bob.keys.userId, deviceId: fake.deviceId, ref: fakeRef, lastResort: false, claimedBy: alice.keys.userId, claimedByDevice: alice.keys.deviceId } }
      return { ...res, events: [...res.events, claimed] }
    },
    async keyPackage(deviceId, ref, real) {
      if (deviceId !== fake.deviceId) return real()
      return { ref, userId: bob.keys.userId, deviceId, keyPackage: toBase64url(fakePackage.bytes), lastResort: false }
    },
  }
  await alice.session.start()
  await bob.session.start()

  const id = await alice.session.createThread('Extra device', ['bob1'])
  t.notOk(fakeClaimed, 'Alice did not even ask the ledger for a key package of the uncertified device')
  const { commits } = await alice.api.mlsCommits(id)
  const welcome = fromBase64url(commits.find((c) => c.welcome !== null)!.welcome!)
  const header = peekMessage(welcome)
  t.ok(header.kind === 'welcome' && !header.newMembers.some((r) => toBase64url(r) === fakeRef), 'the Welcome is not addressed to the server\'s key package')
  await t.rejects(joinFromWelcome(member, welcome), { code: 'ZIXT_ERR_MLS_NOT_MEMBER' }, 'the server cannot join the group with its device')
  await until('bob joins', () => bob.session.threads.get(id)?.status === 'active')
  await alice.session.sendText(id, 'only for bob')
  await until('bob reads', () => bob.session.threads.get(id)?.messages.some((m) => m.text === 'only for bob'))
  t.pass('Bob, the real member, still joins and reads')
})

t.test('the server builds a group with its own device "of Alice" and welcomes Bob into it', async (t) => {
  await freshStack(t)
  const [alice, bob] = await Promise.all([user('alice4'), user('bob4')])
  await alice.session.start()
  const c = await alice.session.createThread('Thread C', ['bob4'])
  const summary = await alice.api.thread(c)
  // The server claims one of Bob's real key packages and makes a group of its own: its
  // device "of Alice" and Bob, under C's group id, so only the credential gives it away.
  const { device: fake, member } = await forgedDevice(alice.keys.userId)
  const claim = await alice.api.submit(alice.session.command('ClaimKeyPackages', { targets: [{ userId: bob.keys.userId, deviceId: bob.keys.deviceId }] }))
  const ev = claim.events.find((e) => e.type === 'KeyPackageClaimed')!
  const bobs = await alice.api.keyPackage(bob.keys.deviceId, String(ev.payload['ref']))
  const group = await createGroup(member, fromBase64url(summary.groupId))
  const pending = await proposeAddMembers(group, [fromBase64url(bobs.keyPackage)])
  const { commits } = await alice.api.mlsCommits(c)
  const forged: MlsCommit = { ...commits[0]!, epoch: 0, commit: toBase64url(pending.commit), welcome: toBase64url(pending.welcome!), deviceId: fake.deviceId }
  bob.api.hooks = {
    async user(userId, real) {
      const u = await real()
      return userId === alice.keys.userId ? { ...u, devices: [...u.devices, fake] } : u
    },
    async mlsCommits(threadId, _o, real) {
      return threadId === c ? { commits: [forged] } : real()
    },
  }
  await bob.session.start()
  const view = await until('bob decides on C', () => {
    const v = bob.session.threads.get(c)
    return v !== undefined && v.status !== 'joining' ? v : undefined
  })
  t.equal(view.status, 'compromised', 'Bob refuses the Welcome into the server\'s group')
  t.match(view.error, /credential is not valid/, 'because a member\'s credential does not verify')
})

t.test('the server serves another user\'s valid key package for Bob\'s claim', async (t) => {
  await freshStack(t)
  const [alice, bob, mallory] = await Promise.all([user('alice2'), user('bob2'), user('mallory2')])
  // A real, valid package of Mallory's device (the server holds them all; claimed here through Alice's account).
  const claim = await alice.api.submit(alice.session.command('ClaimKeyPackages', { targets: [{ userId: mallory.keys.userId, deviceId: mallory.keys.deviceId }] }))
  const ev = claim.events.find((e) => e.type === 'KeyPackageClaimed')!
  const mallorys = await alice.api.keyPackage(mallory.keys.deviceId, String(ev.payload['ref']))
  alice.api.hooks = {
    async keyPackage(deviceId, ref, real) {
      const p = await real()
      return deviceId === bob.keys.deviceId ? { ...p, keyPackage: mallorys.keyPackage } : p
    },
  }
  await alice.session.start()

  await t.rejects(alice.session.createThread('Swapped package', ['bob2']), /key package .* belongs to device|has ref/, 'createThread refuses the swapped key package')
  const id = newThreadOf(alice.session, [])
  t.ok(id, 'the thread itself was created before the members were added')
  const { commits } = await alice.api.mlsCommits(id!)
  t.equal(commits.length, 0, 'no MLS commit reached the ledger: Mallory\'s device was never added')
})

t.test('the server serves thread A\'s Welcome under thread C', async (t) => {
  await freshStack(t)
  const [alice, bob] = await Promise.all([user('alice3'), user('bob3')])
  await alice.session.start()
  const a = await alice.session.createThread('Thread A', ['bob3'])
  const c = await alice.session.createThread('Thread C', ['bob3'])
  // Bob has not started: he holds the key packages both Welcomes are addressed to. The server
  // hides A from him and serves A's commits (with A's Welcome) as C's, with C's positions.
  const notFound = () => new ApiError(404, 'ZIXT_ERR_NOT_FOUND', `no thread ${a}`)
  bob.api.hooks = {
    async threads(_o, real) {
      const r = await real()
      return { threads: r.threads.filter((x) => x.threadId !== a) }
    },
    async thread(threadId, real) {
      if (threadId === a) throw notFound()
      return real()
    },
    async mlsCommits(threadId, o, real) {
      if (threadId === a) throw notFound()
      if (threadId !== c) return real()
      // A's commits at C's positions, so the ledger membership of C at that point matches.
      const [ofA, ofC] = await Promise.all([alice.api.mlsCommits(a, o), real()])
      return { commits: ofA.commits.map((x, i) => ({ ...x, position: ofC.commits[i]?.position ?? x.position })) }
    },
  }
  await bob.session.start()
  const view = await until('bob decides on C', () => {
    const v = bob.session.threads.get(c)
    return v !== undefined && v.status !== 'joining' ? v : undefined
  })
  t.equal(view.status, 'compromised', 'Bob refuses to join thread C from A\'s Welcome')
  t.match(view.error, /another group/, 'and says the Welcome opens another group')
})
