// A logged-in device: the one object the page talks to. It keeps the MLS state of every
// thread (encrypted in the vault), follows the ledger through the API (reads) and the ws
// (nudges), and turns user actions into signed commands. Every change to a thread runs in
// that thread's queue, so syncing, sending and committing never interleave.
//
// Ledger ordering (web/client/core/mls/README.md): a commit is applied only after the
// ledger accepted it; others' commits and messages are processed in ledger position order.
import type { CryptoFacade } from '../../../domain/crypto/types.ts'
import { fromBase64url, toBase64url } from '../../../domain/encoding.ts'
import { fingerprint, signMlsKeyCertificate, verifyDeviceCertificate, verifyMlsKeyCertificate } from '../../../domain/identity.ts'
import type { KeyFileKeys } from '../../../domain/keyfile.ts'
import { equalBytes, type Value } from '../../../domain/ledger/codec.ts'
import { ApiError, type ApiClient, type DeviceInfo, type EventJson, type Message, type MlsCommit, type SessionInfo, type ThreadSummary, type UserPublic } from './api/client.ts'
import { buildCommand, randomId, type SignedCommandJson } from './api/commands.ts'
import type { CommandByType, CommandType } from '../../../domain/commands.ts'
import { connectLive, type LiveConnection, type LiveState, type ServerMessage, type WebSocketLike } from './api/live.ts'
import { decryptAttachment, encryptAttachment, type AttachmentRef } from './attachments/attachment.ts'
import type { AttachmentType } from './attachments/fileType.ts'
import { applyOwnCommit, processCommit, proposeAddMembers, proposeRemoveMembers, type PendingCommit } from './mls/commit.ts'
import { decodeContent, encodeContent } from './mls/content.ts'
import { checkCredential, type LedgerDevice } from './mls/credentialCheck.ts'
import { MlsClientError, MlsErrorCode, mlsError } from './mls/errors.ts'
import { createGroup, groupEpoch, groupMembers, isActive, joinFromWelcome, membersOfTree, type Group, type GroupMember, type GroupOptions } from './mls/group.ts'
import { checkCommitMembership, checkWelcomeMembership, type MembershipEvent, type MembershipVerdict } from './mls/membership.ts'
import { decodeGroup, encodeGroup } from './mls/groupStore.ts'
import { sameIdentity, type MemberIdentity } from './mls/identity.ts'
import { generateKeyPackages, parseKeyPackage } from './mls/keyPackages.ts'
import { certifyMember, createMember, mlsSignaturePublicKey, type Member } from './mls/member.ts'
import { decryptMessage, encryptMessage } from './mls/message.ts'
import { peekMessage } from './mls/wire.ts'
import { memberFromValue, memberToValue } from './mlsStore.ts'
import type { SlowOps } from './slowOps.ts'
import type { Vault } from './store/vault.ts'
import { decryptThreadName, encryptThreadName } from './threadName.ts'

export type ChatMessage = {
  readonly id: number // ledger position of MessagePosted
  readonly userId: string
  readonly time: number
  readonly kind: 'text' | 'attachment' | 'locked' | 'deleted'
  readonly text?: string
  readonly attachment?: AttachmentRef
  readonly note?: string
}

export type ThreadView = {
  readonly threadId: string
  summary: ThreadSummary | null
  name: string | null
  messages: ChatMessage[]
  /**
   * joining: waiting for our Welcome; removed: we are no longer a member (history stays
   * readable); compromised: the ledger holds a commit or Welcome this device refused (its
   * credentials or membership disagree with the ledger), `error` says why; nothing after it is applied.
   */
  status: 'joining' | 'active' | 'removed' | 'compromised'
  error: string | null
}

type ThreadState = {
  group: Group | null
  lastPosition: number
  /** Ledger position of the commit that began the group's current epoch (0: creation). */
  epochStart: number
  /** Membership events seen live (the API only lists current members). */
  membership: MembershipEvent[]
  view: ThreadView
}

const KEY_PACKAGES_LOW = 4
const KEY_PACKAGES_BATCH = 8
const MESSAGES_KEPT_MAX = 2000
const MEMBERSHIP_EVENTS_KEPT_MAX = 1000
const DEVICE_CERTIFICATES_KEPT_MAX = 10_000

export type SessionDeps = {
  readonly api: ApiClient
  readonly crypto: CryptoFacade
  readonly vault: Vault
  readonly slow: SlowOps
  readonly keys: KeyFileKeys
  readonly info: SessionInfo
  readonly wsUrl: string
  readonly openSocket?: (url: string) => WebSocketLike
  readonly now?: () => number
}

export class Session {
  readonly api: ApiClient
  readonly crypto: CryptoFacade
  readonly vault: Vault
  readonly slow: SlowOps
  keys: KeyFileKeys
  info: SessionInfo
  readonly threads = new Map<string, ThreadView>()
  connection: LiveState = 'connecting'
  readonly #deps: SessionDeps
  #member!: Member
  #claimedRefs = new Set<string>()
  readonly #state = new Map<string, ThreadState>()
  readonly #queues = new Map<string, Promise<unknown>>()
  readonly #listeners = new Set<(what: string) => void>()
  readonly #usernames = new Map<string, string>()
  readonly #devices = new Map<string, { at: number; devices: LedgerDevice[] | undefined }>()
  /** Device certificates checked: `userId/deviceId/keyVersion` → what was checked and the verdict. */
  readonly #deviceCertificates = new Map<string, { what: string; ok: boolean }>()
  /** Why the last credential check failed; transient when the ledger's devices could not be read. */
  #credentialProblem: { message: string; transient: boolean } | null = null
  #live: LiveConnection | null = null
  #refreshTimer: ReturnType<typeof setTimeout> | null = null
  #closed = false
  readonly #now: () => number

  private constructor(deps: SessionDeps) {
    this.#deps = deps
    this.api = deps.api
    this.crypto = deps.crypto
    this.vault = deps.vault
    this.slow = deps.slow
    this.keys = deps.keys
    this.info = deps.info
    this.#now = deps.now ?? Date.now
    this.#usernames.set(deps.info.userId, deps.info.username)
  }

  /** Loads (or creates) the device's MLS member, publishes key packages when low, loads the threads kept on this device. */
  static async open(deps: SessionDeps): Promise<Session> {
    const s = new Session(deps)
    const stored = await deps.vault.get('member')
    if (stored === undefined) {
      s.#member = await createMember({ userId: deps.keys.userId, deviceId: deps.keys.deviceId })
    } else {
      const r = stored as Record<string, Value>
      s.#member = memberFromValue(r['member']!)
      s.#claimedRefs = new Set(r['claimed'] as string[])
    }
    s.#member = s.#certified(s.#member)
    await s.#saveMember()
    await s.ensureKeyPackages()
    for (const name of await deps.vault.names('t:')) await s.#loadThread(name.slice(2))
    return s
  }

  // --- change notification ------------------------------------------------------------
  onChange(fn: (what: string) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }
  #emit(what: string): void {
    for (const fn of this.#listeners) fn(what)
  }

  // --- lifecycle --------------------------------------------------------------------------
  /** Connects the ws, lists threads and catches every thread up. */
  async start(): Promise<void> {
    this.#live = connectLive({
      api: this.api,
      url: this.#deps.wsUrl,
      ...(this.#deps.openSocket === undefined ? {} : { open: this.#deps.openSocket }),
      onMessage: (m) => this.#onLive(m),
      onState: (st) => {
        this.connection = st
        this.#emit('connection')
      },
    })
    await this.refreshThreads()
  }

  close(): void {
    this.#closed = true
    this.#live?.close()
    if (this.#refreshTimer !== null) clearTimeout(this.#refreshTimer)
  }

  /** Resolves when every queued thread operation has finished (tests, logout). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.#queues.values()]
      if (pending.length === 0) return
      await Promise.allSettled(pending)
      if ([...this.#queues.values()].every((p) => pending.includes(p))) return
    }
  }

  #onLive(m: ServerMessage): void {
    if (m.type === 'ready') {
      void this.refreshThreads()
      return
    }
    if (m.type === 'sessionEnded') {
      this.#emit('sessionEnded')
      return
    }
    if (m.type !== 'event') return
    const ev = m.event
    if (m.threadId !== null) {
      const seen = membershipEventsOf(ev)
      if (seen.length > 0) void this.#queue(m.threadId, () => this.#recordMembership(m.threadId!, seen))
      if ((ev.type === 'MemberRemoved' || ev.type === 'MemberLeft') && ev.payload['userId'] === this.keys.userId) {
        void this.#queue(m.threadId, () => this.#markRemoved(m.threadId!))
      } else {
        this.scheduleSync(m.threadId)
      }
      this.#scheduleRefresh()
      return
    }
    if (ev.type === 'KeyPackageClaimed' && ev.payload['deviceId'] === this.keys.deviceId) {
      this.#claimedRefs.add(String(ev.payload['ref']))
      void this.#saveMember().then(() => this.ensureKeyPackages()).catch(() => {})
    }
    this.#scheduleRefresh()
  }

  #scheduleRefresh(): void {
    if (this.#refreshTimer !== null || this.#closed) return
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = null
      void this.refreshThreads().catch(() => {})
    }, 150)
  }

  /**
   * The member with a certificate of its MLS signature key by this device's current key
   * (DESIGN "Keys and signatures"): kept when it still verifies, else issued anew (first
   * start, or the device key was rotated). Key packages published before keep their old
   * credential; leaves already in groups keep theirs until a commit replaces them.
   */
  #certified(member: Member): Member {
    const mlsSignaturePublicKeyBytes = mlsSignaturePublicKey(member)
    const c = member.certificate
    const ids = { userId: this.keys.userId, deviceId: this.keys.deviceId }
    if (c !== undefined && verifyMlsKeyCertificate({ ...ids, mlsSignaturePublicKey: mlsSignaturePublicKeyBytes, ...c }, this.keys.device.publicKey, this.crypto)) return member
    const issuedAt = this.#now()
    const signature = signMlsKeyCertificate({ ...ids, mlsSignaturePublicKey: mlsSignaturePublicKeyBytes, issuedAt, deviceSecretKey: this.keys.device.secretKey }, this.crypto)
    return certifyMember(member, { issuedAt, signature })
  }

  // --- key packages -----------------------------------------------------------------------
  async #saveMember(): Promise<void> {
    const held = new Set(this.#member.keyPackages.map((k) => toBase64url(k.ref)))
    for (const r of this.#claimedRefs) if (!held.has(r)) this.#claimedRefs.delete(r)
    await this.vault.put('member', { member: memberToValue(this.#member), claimed: [...this.#claimedRefs] })
  }

  /** Publishes fresh key packages when fewer than KEY_PACKAGES_LOW are unclaimed, and a last-resort one once. */
  async ensureKeyPackages(): Promise<void> {
    const unclaimed = this.#member.keyPackages.filter((k) => !k.lastResort && !this.#claimedRefs.has(toBase64url(k.ref))).length
    const needLastResort = !this.#member.keyPackages.some((k) => k.lastResort)
    if (unclaimed >= KEY_PACKAGES_LOW && !needLastResort) return
    let member = this.#member
    const fresh = unclaimed < KEY_PACKAGES_LOW ? await generateKeyPackages(member, KEY_PACKAGES_BATCH) : undefined
    if (fresh !== undefined) member = fresh.member
    const last = needLastResort ? await generateKeyPackages(member, 1, { lastResort: true }) : undefined
    if (last !== undefined) member = last.member
    const wire = (p: { ref: Uint8Array; bytes: Uint8Array }) => ({ ref: toBase64url(p.ref), keyPackage: toBase64url(p.bytes) })
    // Keep the private halves before publishing: a claim may come right after the commit.
    this.#member = member
    await this.#saveMember()
    await this.api.submit(
      this.command('PublishKeyPackages', {
        keyPackages: (fresh?.packages ?? []).map(wire),
        ...(last === undefined ? {} : { lastResort: wire(last.packages[0]!) }),
      }),
    )
  }

  /** A command signed by this device. */
  command<T extends CommandType>(type: T, payload: CommandByType<T>['payload']): SignedCommandJson {
    return buildCommand(type, payload, this.keys, this.#now(), this.crypto) as unknown as SignedCommandJson
  }

  // --- users ------------------------------------------------------------------------------
  username(userId: string): string {
    return this.#usernames.get(userId) ?? `${userId.slice(0, 8)}…`
  }

  async resolveUsername(userId: string): Promise<string> {
    const known = this.#usernames.get(userId)
    if (known !== undefined) return known
    try {
      const u = await this.api.user(userId)
      this.#usernames.set(userId, u.username)
      return u.username
    } catch {
      return this.username(userId)
    }
  }

  /** Identity key fingerprint of a user, to compare out of band. */
  async contactFingerprint(username: string): Promise<{ userId: string; username: string; fingerprint: string; devices: { deviceId: string; fingerprint: string; status: string }[] }> {
    const { users } = await this.api.resolveUsers([username])
    const found = users[0]
    if (found === undefined) throw new Error(`no user named ${username}`)
    const u = await this.api.user(found.userId)
    return {
      userId: u.userId,
      username: u.username,
      fingerprint: fingerprint(fromBase64url(u.identityPublicKey), this.crypto),
      devices: u.devices.map((d) => ({ deviceId: d.deviceId, fingerprint: fingerprint(fromBase64url(d.publicKey), this.crypto), status: d.status })),
    }
  }

  // The MLS credential check (mls/credentialCheck.ts): the leaf's MLS key must be certified
  // by the current key of a registered, unrevoked device of that user in the ledger. The
  // devices come from the read model, which a compromised server controls, so each one is
  // checked back to the user id (below); cached per user, a miss re-reads at most once a second.
  async #ledgerDevices(userId: string, fresh: boolean): Promise<readonly LedgerDevice[] | undefined> {
    const cached = this.#devices.get(userId)
    if (cached !== undefined && (!fresh || this.#now() - cached.at < 1000)) return cached.devices
    let devices: LedgerDevice[] | undefined
    try {
      const u = await this.api.user(userId)
      this.#usernames.set(u.userId, u.username)
      devices = this.#certifiedDevices(userId, u)
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e
      devices = undefined
    }
    this.#devices.set(userId, { at: this.#now(), devices })
    return devices
  }

  /**
   * The devices of `u` whose key the user's identity key certified (DESIGN "Keys and
   * signatures"): each device's current key must carry its certificate by the identity key
   * (verifyDeviceCertificate). Anything else is a device the server made up: left out, so no
   * credential it certifies verifies and no key package of it is claimed. The identity key
   * itself is the server's word: the user id is the hash of the first one (userIdFor), but
   * identity keys can be rotated (IdentityKeyRotated, IdentityKeyReplaced) and the server does
   * not serve the rotation chain yet, so a server that forges a whole identity still gets its
   * devices in; that changes the user's fingerprint, which members compare out of band.
   */
  #certifiedDevices(userId: string, u: UserPublic): LedgerDevice[] {
    let identityPublicKey: Uint8Array
    try {
      identityPublicKey = fromBase64url(u.identityPublicKey, 'identityPublicKey')
      if (u.userId !== userId) return []
    } catch {
      return []
    }
    const out: LedgerDevice[] = []
    for (const d of u.devices) {
      if (!this.#deviceCertified(userId, u.identityPublicKey, identityPublicKey, d)) continue
      out.push({ deviceId: d.deviceId, publicKey: fromBase64url(d.publicKey), status: d.status })
    }
    return out
  }

  /** verifyDeviceCertificate, remembered per device and key version (an SLH-DSA verify is slow). */
  #deviceCertified(userId: string, identityKey: string, identityPublicKey: Uint8Array, d: DeviceInfo): boolean {
    if (d.certificate === null) return false
    const key = `${userId}/${d.deviceId}/${d.keyVersion}`
    const what = `${identityKey}/${d.publicKey}/${d.issuedAt}/${d.certificate}`
    const known = this.#deviceCertificates.get(key)
    if (known !== undefined && known.what === what) return known.ok
    const certificate = { deviceId: d.deviceId, publicKey: d.publicKey, issuedAt: d.issuedAt, certificate: d.certificate }
    const ok = verifyDeviceCertificate(certificate, { userId, identityPublicKey }, this.crypto)
    if (this.#deviceCertificates.size >= DEVICE_CERTIFICATES_KEPT_MAX) this.#deviceCertificates.clear()
    this.#deviceCertificates.set(key, { what, ok })
    return ok
  }

  #groupOptions(): GroupOptions {
    return {
      validateCredential: async (identity, signaturePublicKey, certificate) => {
        try {
          const v = await checkCredential({ identity, signaturePublicKey, certificate }, (u, fresh) => this.#ledgerDevices(u, fresh), this.crypto)
          if (v.kind === 'valid') return true
          this.#credentialProblem = { message: v.message, transient: false }
        } catch (e) {
          this.#credentialProblem = { message: `cannot read the ledger's devices: ${errorText(e)}`, transient: true }
        }
        return false
      },
    }
  }

  /** The thread's membership events we know: those seen live plus the current members' joins. */
  async #membershipEvents(threadId: string, st: ThreadState): Promise<MembershipEvent[]> {
    let members: { userId: string; joinedPosition: number }[]
    try {
      members = (await this.api.members(threadId)).members
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 403 && e.status !== 404)) throw e
      members = [] // no longer a member: what we saw live is all we know
    }
    const out = [...st.membership]
    for (const m of members) if (!out.some((e) => e.userId === m.userId && e.position === m.joinedPosition)) out.push({ kind: 'joined', userId: m.userId, position: m.joinedPosition })
    return out
  }

  /**
   * A commit or Welcome the ledger accepted and this device refuses: the group is forked
   * for us (or someone is attacking it). Stop applying anything and say why.
   */
  async #markCompromised(st: ThreadState, reason: string): Promise<void> {
    st.view.status = 'compromised'
    st.view.error = `The thread's encryption was refused on this device: ${reason}. Messages after it cannot be read here.`
    await this.#saveThread(st.view.threadId, st)
    this.#emit(`thread:${st.view.threadId}`)
    this.#emit('threads')
  }

  /** Turns a refusal of a ledger handshake into the reason to show, or undefined when it may pass on a retry. */
  #refusalOf(e: unknown): string | undefined {
    if (!(e instanceof MlsClientError)) return undefined
    if (e.code === MlsErrorCode.membership) return e.message
    const problem = this.#credentialProblem
    if (e.code === MlsErrorCode.rejected && problem !== null && !problem.transient) return `a member's credential is not valid (${problem.message})`
    return undefined
  }

  // --- thread state -------------------------------------------------------------------------
  async #loadThread(threadId: string): Promise<ThreadState> {
    const have = this.#state.get(threadId)
    if (have !== undefined) return have
    const v = (await this.vault.get(`t:${threadId}`)) as Record<string, Value> | undefined
    const view: ThreadView = { threadId, summary: null, name: null, messages: [], status: 'joining', error: null }
    const st: ThreadState = { group: null, lastPosition: 0, epochStart: 0, membership: [], view }
    if (v !== undefined) {
      st.group = v['group'] instanceof Uint8Array ? decodeGroup(v['group'], this.#groupOptions()) : null
      st.lastPosition = v['lastPosition'] as number
      st.epochStart = (v['epochStart'] as number | undefined) ?? 0
      st.membership = ((v['membership'] as Value[] | undefined) ?? []).map((e) => e as unknown as MembershipEvent)
      view.name = (v['name'] as string | null) ?? null
      view.status = v['status'] as ThreadView['status']
      view.error = (v['error'] as string | null | undefined) ?? null
      view.messages = (v['messages'] as Value[]).map(messageFromValue)
    }
    this.#state.set(threadId, st)
    this.threads.set(threadId, view)
    return st
  }

  async #saveThread(threadId: string, st: ThreadState): Promise<void> {
    const msgs = st.view.messages.slice(-MESSAGES_KEPT_MAX)
    st.view.messages = msgs
    await this.vault.put(`t:${threadId}`, {
      group: st.group === null ? null : encodeGroup(st.group),
      lastPosition: st.lastPosition,
      epochStart: st.epochStart,
      membership: st.membership.map((e) => ({ ...e })),
      name: st.view.name,
      status: st.view.status,
      error: st.view.status === 'compromised' ? st.view.error : null,
      messages: msgs.map(messageToValue),
    })
  }

  #queue<T>(threadId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(threadId) ?? Promise.resolve()
    const run = prev.catch(() => {}).then(fn)
    const tail = run.catch(() => {})
    this.#queues.set(threadId, tail)
    void tail.then(() => {
      if (this.#queues.get(threadId) === tail) this.#queues.delete(threadId)
    })
    return run
  }

  /** Thread list from the read model (visible and hidden); catches up every thread. */
  async refreshThreads(): Promise<void> {
    const [shown, hidden] = await Promise.all([this.api.threads({ hidden: false }), this.api.threads({ hidden: true })])
    const seen = new Set<string>()
    for (const summary of [...shown.threads, ...hidden.threads]) {
      seen.add(summary.threadId)
      const st = await this.#loadThread(summary.threadId)
      const before = st.view.summary
      st.view.summary = summary
      if (st.view.status === 'removed') st.view.status = st.group !== null && isActive(st.group) ? 'active' : 'joining'
      if (before === null || before.lastPosition !== summary.lastPosition || before.epoch !== summary.epoch || before.encryptedName !== summary.encryptedName || st.group === null) {
        this.scheduleSync(summary.threadId)
      }
    }
    for (const [threadId, view] of this.threads) {
      if (!seen.has(threadId) && view.status !== 'removed' && view.summary !== null) void this.#queue(threadId, () => this.#markRemoved(threadId))
    }
    this.#emit('threads')
  }

  async #recordMembership(threadId: string, seen: readonly MembershipEvent[]): Promise<void> {
    const st = await this.#loadThread(threadId)
    for (const e of seen) if (!st.membership.some((x) => x.userId === e.userId && x.position === e.position && x.kind === e.kind)) st.membership.push(e)
    st.membership.sort((a, b) => a.position - b.position)
    if (st.membership.length > MEMBERSHIP_EVENTS_KEPT_MAX) st.membership.splice(0, st.membership.length - MEMBERSHIP_EVENTS_KEPT_MAX)
  }

  async #markRemoved(threadId: string): Promise<void> {
    const st = await this.#loadThread(threadId)
    st.view.status = 'removed'
    if (st.view.summary !== null) st.view.summary = { ...st.view.summary, hidden: false, unread: 0 }
    await this.#saveThread(threadId, st)
    this.#emit(`thread:${threadId}`)
    this.#emit('threads')
  }

  #syncScheduled = new Set<string>()
  scheduleSync(threadId: string): void {
    if (this.#syncScheduled.has(threadId)) return
    this.#syncScheduled.add(threadId)
    void this.#queue(threadId, async () => {
      this.#syncScheduled.delete(threadId)
      await this.#sync(threadId)
    }).catch((e: unknown) => {
      const st = this.#state.get(threadId)
      if (st !== undefined) st.view.error = errorText(e)
      this.#emit(`thread:${threadId}`)
    })
  }

  /** Sync now (in the thread's queue) and wait for it. */
  sync(threadId: string): Promise<void> {
    return this.#queue(threadId, () => this.#sync(threadId))
  }

  async #sync(threadId: string): Promise<void> {
    const st = await this.#loadThread(threadId)
    if (st.view.status === 'removed' || st.view.status === 'compromised') return
    let summary: ThreadSummary
    try {
      summary = await this.api.thread(threadId)
    } catch (e) {
      if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return this.#markRemoved(threadId)
      throw e
    }
    st.view.summary = { ...summary, hidden: st.view.summary?.hidden ?? summary.hidden }
    if (st.group === null && !(await this.#join(threadId, st))) {
      if (!compromised(st)) st.view.status = 'joining'
      this.#emit(`thread:${threadId}`)
      return
    }
    await this.#catchUp(threadId, st)
    if (compromised(st)) return
    if (st.group !== null && isActive(st.group)) {
      const name = await decryptThreadName(this.crypto, st.group, threadId, summary.encryptedName)
      if (name !== undefined) st.view.name = name
    }
    st.view.error = null
    await this.#saveThread(threadId, st)
    this.#emit(`thread:${threadId}`)
    this.#emit('threads')
  }

  async #allCommits(threadId: string, fromEpoch: number): Promise<MlsCommit[]> {
    const out: MlsCommit[] = []
    for (let i = 0; i < 1000; i++) {
      const { commits } = await this.api.mlsCommits(threadId, { fromEpoch, limit: 100 })
      out.push(...commits)
      if (commits.length < 100) break
      fromEpoch = commits[commits.length - 1]!.epoch + 1
    }
    return out
  }

  /** Finds the latest Welcome addressed to one of our key packages and joins from it. */
  async #join(threadId: string, st: ThreadState): Promise<boolean> {
    const commits = await this.#allCommits(threadId, 0)
    const refs = this.#member.keyPackages.map((k) => k.ref)
    for (const c of [...commits].reverse()) {
      if (c.welcome === null) continue
      const welcome = fromBase64url(c.welcome)
      const header = peekMessage(welcome)
      if (header.kind !== 'welcome' || !header.newMembers.some((r) => refs.some((x) => equalBytes(x, r)))) continue
      const events = await this.#membershipEvents(threadId, st)
      const latest = c === commits[commits.length - 1]
      const checkMembers = (ms: readonly GroupMember[]) => refusal(checkWelcomeMembership({ members: ms.map((m) => m.identity), events, position: c.position, latest }))
      // Tie the Welcome to this thread: the server could serve another thread's Welcome here.
      const expected = { groupId: fromBase64url(st.view.summary!.groupId, 'groupId'), epoch: BigInt(c.epoch) + 1n }
      let res
      try {
        this.#credentialProblem = null
        res = await joinFromWelcome(this.#member, welcome, { ...this.#groupOptions(), checkMembers, expected })
      } catch (e) {
        const reason = this.#refusalOf(e) ?? welcomeMismatch(e)
        if (reason === undefined) throw e
        await this.#markCompromised(st, `the Welcome at position ${c.position}: ${reason}`)
        return false
      }
      this.#member = res.member
      await this.#saveMember()
      st.group = res.group
      st.lastPosition = c.position
      st.epochStart = c.position
      st.view.status = 'active'
      return true
    }
    return false
  }

  /** Processes commits and messages after our marks, in ledger order. */
  async #catchUp(threadId: string, st: ThreadState): Promise<void> {
    const group = st.group!
    const commits = isActive(group) ? await this.#allCommits(threadId, Number(groupEpoch(group))) : []
    const messages: Message[] = []
    let after: number | null = st.lastPosition
    for (let i = 0; i < 1000 && after !== null; i++) {
      const page: { messages: Message[]; next: number | null } = await this.api.messages(threadId, { after, limit: 100 })
      messages.push(...page.messages)
      after = page.messages.length === 0 ? null : page.next
    }
    type Item = { position: number; commit?: MlsCommit; message?: Message }
    const items: Item[] = [...commits.map((c) => ({ position: c.position, commit: c })), ...messages.map((m) => ({ position: m.messageId, message: m }))]
    items.sort((a, b) => a.position - b.position)
    const events = commits.length > 0 ? await this.#membershipEvents(threadId, st) : []
    for (const item of items) {
      if (item.commit !== undefined) {
        if (!(await this.#applyCommit(st, item.commit, events))) return
      } else if (item.message !== undefined && item.message.messageId > st.lastPosition) await this.#receive(st, item.message)
    }
  }

  /** Processes a ledger commit after checking its adds/removes against the ledger's membership; false when refused. */
  async #applyCommit(st: ThreadState, c: MlsCommit, events: readonly MembershipEvent[]): Promise<boolean> {
    const group = st.group!
    if (!isActive(group) || c.epoch !== Number(groupEpoch(group))) return true
    const ids = (ms: readonly GroupMember[]) => ms.map((m) => m.identity)
    const checkMembers = ({ before, after }: { before: readonly GroupMember[]; after: readonly GroupMember[] }) =>
      refusal(checkCommitMembership({ before: ids(before), after: ids(after), events, position: c.position, epochStart: st.epochStart }))
    let res
    try {
      this.#credentialProblem = null
      res = await processCommit(group, fromBase64url(c.commit), { checkMembers })
    } catch (e) {
      const reason = this.#refusalOf(e) ?? unprocessable(e, this.#credentialProblem)
      if (reason === undefined) throw e
      await this.#markCompromised(st, `the commit at position ${c.position} (epoch ${c.epoch}, by ${this.username(c.userId)}): ${reason}`)
      return false
    }
    st.group = res.group
    st.epochStart = c.position
    if (res.kind === 'removed') st.view.status = 'removed'
    return true
  }

  async #receive(st: ThreadState, m: Message): Promise<void> {
    st.lastPosition = Math.max(st.lastPosition, m.messageId)
    const existing = st.view.messages.findIndex((x) => x.id === m.messageId)
    const base = { id: m.messageId, userId: m.userId, time: m.time }
    let msg: ChatMessage
    if (m.deleted || m.ciphertext === null) {
      msg = { ...base, kind: 'deleted', note: 'message deleted' }
    } else if (existing >= 0) {
      return // our own message: we kept its plaintext when we sent it
    } else if (m.userId === this.keys.userId && m.deviceId === this.keys.deviceId) {
      msg = { ...base, kind: 'locked', note: 'sent from this device; its text was not kept' }
    } else {
      msg = await this.#decrypt(st, m, base)
    }
    void this.resolveUsername(m.userId)
    if (existing >= 0) st.view.messages[existing] = msg
    else insertSorted(st.view.messages, msg)
  }

  async #decrypt(st: ThreadState, m: Message, base: { id: number; userId: string; time: number }): Promise<ChatMessage> {
    try {
      const res = await decryptMessage(st.group!, fromBase64url(m.ciphertext!))
      st.group = res.group
      if (res.sender.identity.userId !== m.userId) return { ...base, kind: 'locked', note: 'sender does not match the ledger' }
      const content = decodeContent(res.plaintext)
      if (content.kind === 'text') return { ...base, kind: 'text', text: content.text }
      if (content.kind === 'attachment') {
        const { kind: _k, ...ref } = content
        if (!m.attachments.some((a) => a.blobId === ref.blobId)) return { ...base, kind: 'locked', note: 'attachment does not match the message' }
        return { ...base, kind: 'attachment', attachment: ref }
      }
      return { ...base, kind: 'locked', note: `unsupported content ${content.kind}` }
    } catch (e) {
      return { ...base, kind: 'locked', note: `cannot decrypt: ${errorText(e)}` }
    }
  }

  // --- actions ----------------------------------------------------------------------------
  /** Creates a thread (MLS group), adds the members' devices by Welcome, and sets its encrypted name. */
  async createThread(name: string, usernames: readonly string[], onStep: (s: string) => void = () => {}): Promise<string> {
    const userIds = await this.#resolve(usernames)
    const threadId = randomId(this.crypto, 16)
    const groupIdBytes = this.crypto.randomBytes(32)
    return this.#queue(threadId, async () => {
      onStep('Creating the encrypted group…')
      const group = await createGroup(this.#member, groupIdBytes, this.#groupOptions())
      const encryptedName = await encryptThreadName(this.crypto, group, threadId, name)
      const created = await this.api.submit(this.command('CreateThread', { threadId, groupId: toBase64url(groupIdBytes), encryptedName, members: userIds }))
      await this.#recordMembership(threadId, created.events.flatMap(membershipEventsOf))
      const st = await this.#loadThread(threadId)
      st.group = group
      st.view.name = name
      st.view.status = 'active'
      await this.#saveThread(threadId, st)
      if (userIds.length > 0) {
        onStep('Adding the members’ devices…')
        await this.#commitAdd(threadId, st, userIds)
      }
      await this.#renameForEpoch(threadId, st)
      await this.#saveThread(threadId, st)
      this.#emit('threads')
      return threadId
    })
  }

  async #resolve(usernames: readonly string[]): Promise<string[]> {
    const names = [...new Set(usernames.map((u) => u.trim()).filter((u) => u.length > 0))]
    if (names.length === 0) return []
    const { users } = await this.api.resolveUsers(names)
    const missing = names.filter((n) => !users.some((u) => u.username.toLowerCase() === n.toLowerCase()))
    if (missing.length > 0) throw new Error(`unknown user${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`)
    for (const u of users) this.#usernames.set(u.userId, u.username)
    return users.map((u) => u.userId).filter((id) => id !== this.keys.userId)
  }

  /**
   * Claims a key package per certified device of `userIds`, commits their addition with a
   * Welcome. The server hands out the packages, so each must be the one claimed: its ref
   * the claimed ref, its credential the claimed device, that device one we asked for.
   */
  async #commitAdd(threadId: string, st: ThreadState, userIds: readonly string[]): Promise<void> {
    const targets: { userId: string; deviceId: string }[] = []
    for (const userId of userIds) {
      const devices = (await this.#ledgerDevices(userId, true)) ?? []
      for (const d of devices) if (d.status === 'active' || d.status === 'rotationDue') targets.push({ userId, deviceId: d.deviceId })
    }
    if (targets.length === 0) throw new Error('the new members have no active device')
    const claim = await this.api.submit(this.command('ClaimKeyPackages', { targets }))
    const claimed = claim.events.filter((e) => e.type === 'KeyPackageClaimed')
    const packages = await Promise.all(claimed.map((e) => this.#claimedPackage(targets, e)))
    await this.#commit(threadId, st, (g) => proposeAddMembers(g, packages))
  }

  /** The key package a KeyPackageClaimed event names, refused unless it is exactly that package of a target device. */
  async #claimedPackage(targets: readonly MemberIdentity[], e: EventJson): Promise<Uint8Array> {
    const want = { userId: String(e.payload['userId']), deviceId: String(e.payload['deviceId']) }
    const ref = String(e.payload['ref'])
    const who = `${want.userId}/${want.deviceId}`
    if (!targets.some((t) => sameIdentity(t, want))) throw mlsError(MlsErrorCode.rejected, `the server claimed a key package of device ${who}, which was not asked for`)
    const bytes = fromBase64url((await this.api.keyPackage(want.deviceId, ref)).keyPackage, 'keyPackage')
    const kp = await parseKeyPackage(bytes)
    if (toBase64url(kp.ref) !== ref) throw mlsError(MlsErrorCode.rejected, `the key package served for ref ${ref} of device ${who} has ref ${toBase64url(kp.ref)}`)
    if (!sameIdentity(kp.identity, want)) {
      throw mlsError(MlsErrorCode.rejected, `the key package served for device ${who} belongs to device ${kp.identity.userId}/${kp.identity.deviceId}`)
    }
    return bytes
  }

  /**
   * Makes a commit from the current epoch, checks its membership change against the
   * ledger's like any receiver would (a server that slipped in a device must not get it
   * past us), submits it; on a lost race catches up and tries again.
   */
  async #commit(threadId: string, st: ThreadState, make: (g: Group) => Promise<PendingCommit>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const pending = await make(st.group!)
      await this.#checkOwnCommit(threadId, st, pending)
      const payload = {
        threadId,
        epoch: Number(pending.epoch),
        commit: toBase64url(pending.commit),
        ...(pending.welcome === undefined ? {} : { welcome: toBase64url(pending.welcome) }),
      }
      try {
        const res = await this.api.submit(this.command('SubmitMlsCommit', payload))
        st.group = applyOwnCommit(st.group!, pending)
        st.epochStart = res.events.find((e) => e.type === 'MlsCommitAccepted')?.position ?? st.epochStart
        await this.#saveThread(threadId, st)
        return
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'ZIXT_ERR_MLS_EPOCH_TAKEN' || attempt >= 3) throw e
        await this.#catchUp(threadId, st)
      }
    }
  }

  /** Our commit will land after every membership event we know: checked as of then. */
  async #checkOwnCommit(threadId: string, st: ThreadState, pending: PendingCommit): Promise<void> {
    const events = await this.#membershipEvents(threadId, st)
    const ids = (ms: readonly GroupMember[]) => ms.map((m) => m.identity)
    const v = checkCommitMembership({
      before: ids(groupMembers(st.group!)),
      after: ids(membersOfTree(pending.next.ratchetTree)),
      events,
      position: Number.MAX_SAFE_INTEGER,
      epochStart: st.epochStart,
    })
    if (v.kind === 'refused') throw mlsError(MlsErrorCode.membership, `our own commit was not submitted: ${v.message}`)
  }

  /** After our commit moved the epoch, re-encrypt the name so exactly the new members can read it. */
  async #renameForEpoch(threadId: string, st: ThreadState): Promise<void> {
    if (st.view.name === null || st.group === null) return
    const encryptedName = await encryptThreadName(this.crypto, st.group, threadId, st.view.name)
    await this.api.submit(this.command('RenameThread', { threadId, encryptedName }))
  }

  async renameThread(threadId: string, name: string): Promise<void> {
    await this.#queue(threadId, async () => {
      const st = await this.#activeThread(threadId)
      st.view.name = name
      await this.#renameForEpoch(threadId, st)
      await this.#saveThread(threadId, st)
    })
    this.#emit('threads')
  }

  async #activeThread(threadId: string): Promise<ThreadState> {
    const st = await this.#loadThread(threadId)
    if (st.group === null || !isActive(st.group) || st.view.status !== 'active') throw new Error('you cannot write to this thread')
    return st
  }

  async addMember(threadId: string, username: string): Promise<void> {
    const [userId] = await this.#resolve([username])
    if (userId === undefined) throw new Error('that is you')
    await this.#queue(threadId, async () => {
      await this.#sync(threadId)
      const st = await this.#activeThread(threadId)
      const added = await this.api.submit(this.command('AddMember', { threadId, userId }))
      await this.#recordMembership(threadId, added.events.flatMap(membershipEventsOf))
      await this.#commitAdd(threadId, st, [userId])
      await this.#renameForEpoch(threadId, st)
      await this.#saveThread(threadId, st)
    })
    this.scheduleSync(threadId)
  }

  /** Removes a member from the ledger's membership and from the MLS group (new epoch secrets). */
  async removeMember(threadId: string, userId: string): Promise<void> {
    await this.#queue(threadId, async () => {
      await this.#sync(threadId)
      const st = await this.#activeThread(threadId)
      await this.api.submit(this.command('RemoveMember', { threadId, userId }))
      await this.#commit(threadId, st, (g) => proposeRemoveMembers(g, [{ userId }]))
      await this.#renameForEpoch(threadId, st)
      await this.#saveThread(threadId, st)
    })
    this.scheduleSync(threadId)
  }

  async hideThread(threadId: string, hidden = true): Promise<void> {
    await this.api.submit(hidden ? this.command('HideThread', { threadId }) : this.command('UnhideThread', { threadId }))
    const v = this.threads.get(threadId)
    if (v?.summary) v.summary = { ...v.summary, hidden }
    this.#emit('threads')
  }

  async markRead(threadId: string): Promise<void> {
    const st = this.#state.get(threadId)
    if (st === undefined || st.view.summary === null || st.view.status !== 'active') return
    const position = st.view.summary.lastPosition
    if (st.view.summary.unread === 0 || position <= 0) return
    try {
      await this.api.submit(this.command('MarkRead', { threadId, position }))
    } catch (e) {
      if (!(e instanceof ApiError) || (e.code !== 'ZIXT_ERR_NO_CHANGE' && e.code !== 'ZIXT_ERR_POSITION_AHEAD')) throw e
    }
    st.view.summary = { ...st.view.summary, unread: 0 }
    this.#emit('threads')
  }

  async sendText(threadId: string, text: string): Promise<void> {
    await this.#post(threadId, encodeContent({ kind: 'text', text }), [], (id, st) => {
      insertSorted(st.view.messages, { id, userId: this.keys.userId, time: this.#now(), kind: 'text', text })
    })
  }

  /** Encrypts the file with a fresh key, uploads the ciphertext, posts the key inside MLS. */
  async sendFile(threadId: string, file: { bytes: Uint8Array; name: string; type: AttachmentType }): Promise<void> {
    const enc = encryptAttachment(this.crypto, file)
    await this.api.putBlob(enc.blobId, enc.blob)
    const attachments = [{ blobId: enc.blobId, ciphertextBytes: enc.blob.length, type: file.type }]
    await this.#post(threadId, encodeContent({ kind: 'attachment', ...enc.ref }), attachments, (id, st) => {
      insertSorted(st.view.messages, { id, userId: this.keys.userId, time: this.#now(), kind: 'attachment', attachment: enc.ref })
    })
  }

  async #post(threadId: string, plaintext: Uint8Array, attachments: { blobId: string; ciphertextBytes: number; type: AttachmentType }[], keep: (id: number, st: ThreadState) => void): Promise<void> {
    await this.#queue(threadId, async () => {
      const st = await this.#activeThread(threadId)
      const { message, group } = await encryptMessage(st.group!, plaintext)
      st.group = group
      const res = await this.api.submit(this.command('PostMessage', { threadId, epoch: Number(groupEpoch(group)), ciphertext: toBase64url(message), attachments }))
      const posted = res.events.find((e: EventJson) => e.type === 'MessagePosted')
      if (posted !== undefined) keep(posted.position, st)
      await this.#saveThread(threadId, st)
    })
    this.#emit(`thread:${threadId}`)
    this.scheduleSync(threadId)
  }

  /** Downloads, checks and decrypts an attachment; the content must be of the declared type. */
  async downloadAttachment(ref: AttachmentRef): Promise<{ bytes: Uint8Array; mime: string }> {
    const blob = await this.api.getBlob(ref.blobId)
    const { bytes, mime } = decryptAttachment(this.crypto, blob, ref)
    return { bytes, mime }
  }

  async members(threadId: string): Promise<{ userId: string; username: string }[]> {
    const { members } = await this.api.members(threadId)
    for (const m of members) this.#usernames.set(m.userId, m.username)
    return members
  }
}

/** A function, not an inline test: the status changes inside awaited calls, which narrowing does not see. */
function compromised(st: ThreadState): boolean {
  return st.view.status === 'compromised'
}

/**
 * Why a commit the ledger accepted for our epoch can never be processed, or undefined when it
 * might be on a later try (a device list that could not be read). The ledger takes any bytes
 * as the epoch's commit, so a malformed, misaddressed or unverifiable one (a faulty or hostile
 * member) is final: the epoch is taken, no later commit can follow it, and retrying it on every
 * sync only hid the thread's end behind a silent stall. The thread turns `compromised` instead.
 */
function unprocessable(e: unknown, credentialProblem: { readonly transient: boolean } | null): string | undefined {
  if (!(e instanceof MlsClientError)) return undefined
  const final: readonly string[] = [MlsErrorCode.malformed, MlsErrorCode.wrongGroup, MlsErrorCode.wrongEpoch, MlsErrorCode.unsupported, MlsErrorCode.tooLarge]
  if (final.includes(e.code) || (e.code === MlsErrorCode.rejected && credentialProblem?.transient !== true)) return `it cannot be processed (${e.message})`
  return undefined
}

/** A Welcome of another group or epoch than the thread's commit says: refused, never retried. */
function welcomeMismatch(e: unknown): string | undefined {
  if (!(e instanceof MlsClientError)) return undefined
  return e.code === MlsErrorCode.wrongGroup || e.code === MlsErrorCode.wrongEpoch ? e.message : undefined
}

function refusal(v: MembershipVerdict): string | undefined {
  return v.kind === 'refused' ? v.message : undefined
}

/** The membership events in a thread event pushed by the ws (ThreadCreated's members join at its position). */
function membershipEventsOf(ev: EventJson): MembershipEvent[] {
  const p = ev.payload
  if (ev.type === 'ThreadCreated' && Array.isArray(p['members'])) return (p['members'] as unknown[]).filter((u): u is string => typeof u === 'string').map((userId) => ({ kind: 'joined', userId, position: ev.position }))
  if (typeof p['userId'] !== 'string') return []
  if (ev.type === 'MemberAdded') return [{ kind: 'joined', userId: p['userId'], position: ev.position }]
  if (ev.type === 'MemberRemoved' || ev.type === 'MemberLeft') return [{ kind: 'left', userId: p['userId'], position: ev.position }]
  return []
}

function insertSorted(list: ChatMessage[], m: ChatMessage): void {
  const at = list.findIndex((x) => x.id > m.id)
  if (list.some((x) => x.id === m.id)) return
  if (at < 0) list.push(m)
  else list.splice(at, 0, m)
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof Error) return e.message
  return String(e)
}

function messageToValue(m: ChatMessage): Value {
  return {
    id: m.id,
    userId: m.userId,
    time: m.time,
    kind: m.kind,
    text: m.text ?? null,
    note: m.note ?? null,
    attachment: m.attachment === undefined ? null : { ...m.attachment },
  }
}

function messageFromValue(v: Value): ChatMessage {
  const r = v as Record<string, Value>
  const att = r['attachment'] as Record<string, Value> | null
  return {
    id: r['id'] as number,
    userId: r['userId'] as string,
    time: r['time'] as number,
    kind: r['kind'] as ChatMessage['kind'],
    ...(r['text'] === null ? {} : { text: r['text'] as string }),
    ...(r['note'] === null ? {} : { note: r['note'] as string }),
    ...(att === null ? {} : { attachment: att as unknown as AttachmentRef }),
  }
}
