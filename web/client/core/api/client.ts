// Typed client for the Zixt HTTP API (docs/api.md), for the browser and Node alike (no
// `node:` imports). In the browser cookies travel by themselves (same origin); in Node pass
// `cookieJar: true` and the client keeps the session and CSRF cookies itself.
import type { CryptoFacade } from '../../../../domain/crypto/types.ts'
import type { KeyFileKeys } from '../../../../domain/keyfile.ts'
import { signLoginChallenge, type SignedCommandJson } from './commands.ts'

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string | Uint8Array; credentials?: 'same-origin' }) => Promise<{
  status: number
  headers: { get(name: string): string | null; getSetCookie?(): string[] }
  text(): Promise<string>
  arrayBuffer(): Promise<ArrayBuffer>
}>

/** Any signed command from buildCommand(). */
export type AnySignedCommand = { readonly command: { readonly type: string; readonly id: string }; readonly signature: string }

export class ApiError extends Error {
  override name = 'ApiError'
  readonly status: number
  readonly code: string
  readonly field: string | undefined
  readonly retryAfterS: number | undefined
  constructor(status: number, code: string, message: string, field?: string, retryAfterS?: number) {
    super(`${code}: ${message}`)
    this.status = status
    this.code = code
    this.field = field
    this.retryAfterS = retryAfterS
  }
}

export type EventJson = {
  readonly position: number
  readonly stream: string
  readonly streamVersion: number
  readonly type: string
  readonly payload: Record<string, unknown>
  readonly commandId: string
  readonly author: string
  readonly blockHeight: number
  readonly time: number
}
export type Committed = { readonly kind: 'committed'; readonly height: number; readonly events: readonly EventJson[] }

export type SessionInfo = {
  readonly userId: string
  readonly deviceId: string
  readonly username: string
  readonly admin: boolean
  readonly emailVerified: boolean
  readonly totpEnabled: boolean
  readonly csrfToken: string
  readonly keyRotationDue: boolean
  readonly keyExpiresAt: number | null
}

export type ThreadSummary = {
  readonly threadId: string
  readonly groupId: string
  readonly encryptedName: string
  readonly owner: string | null
  readonly members: readonly string[]
  readonly epoch: number
  readonly unread: number
  readonly lastPosition: number
  readonly lastActivity: number
  readonly hidden: boolean
}

export type Attachment = { readonly blobId: string; readonly ciphertextBytes: number; readonly type: string }
export type Message = {
  readonly messageId: number
  readonly threadId: string
  readonly userId: string
  readonly deviceId: string
  readonly epoch: number
  readonly ciphertext: string | null
  readonly attachments: readonly Attachment[]
  readonly time: number
  readonly edited: boolean
  readonly deleted: boolean
  readonly reactions: readonly { userId: string; deviceId: string; epoch: number; reaction: string; time: number; position: number }[]
}
export type DeviceInfo = {
  readonly deviceId: string
  readonly publicKey: string
  readonly keyVersion: number
  readonly issuedAt: number
  readonly certificate: string | null
  readonly status: 'active' | 'rotationDue' | 'expired' | 'revoked'
}
export type UserPublic = {
  readonly userId: string
  readonly username: string
  readonly identityPublicKey: string
  readonly disabled: boolean
  readonly deleted: boolean
  readonly devices: readonly DeviceInfo[]
}
export type AdminUser = {
  readonly userId: string
  readonly username: string
  readonly admin: boolean
  readonly disabled: boolean
  readonly deleted: boolean
  readonly emailVerified: boolean
  readonly email: string | null
  readonly createdAt: number
  readonly devices: number
}
export type MlsCommit = { epoch: number; commit: string; welcome: string | null; userId: string; deviceId: string; time: number; position: number }

export type ApiClientOptions = { readonly baseUrl?: string; readonly fetch?: FetchLike; readonly cookieJar?: boolean }

function q(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

export class ApiClient {
  readonly baseUrl: string
  readonly #fetch: FetchLike
  readonly #jar: Map<string, string> | null
  #csrf: string | null = null
  session: SessionInfo | null = null

  constructor(o: ApiClientOptions = {}) {
    this.baseUrl = o.baseUrl ?? ''
    this.#fetch = o.fetch ?? ((url, init) => globalThis.fetch(url, init as RequestInit))
    this.#jar = o.cookieJar === true ? new Map() : null
  }

  /** Cookie header this client would send (Node only; '' in the browser). */
  cookieHeader(): string {
    return this.#jar === null ? '' : [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  get csrfToken(): string | null {
    return this.#csrf
  }

  async raw(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: { get(n: string): string | null } }> {
    const headers: Record<string, string> = { ...extraHeaders }
    let payload: string | Uint8Array | undefined
    if (body instanceof Uint8Array) {
      payload = body
      headers['content-type'] ??= 'application/octet-stream'
    } else if (body !== undefined) {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
    if (method !== 'GET' && method !== 'HEAD') {
      if (this.#csrf === null && path !== '/api/csrf') await this.csrf()
      if (this.#csrf !== null) headers['x-csrf-token'] ??= this.#csrf
    }
    const cookie = this.cookieHeader()
    if (cookie !== '') headers['cookie'] = cookie
    const res = await this.#fetch(this.baseUrl + path, { method, headers, body: payload, credentials: 'same-origin' })
    this.#storeCookies(res.headers)
    const type = res.headers.get('content-type') ?? ''
    const parsed: unknown = type.includes('application/json') ? JSON.parse((await res.text()) || 'null') : new Uint8Array(await res.arrayBuffer())
    return { status: res.status, body: parsed, headers: res.headers }
  }

  #storeCookies(headers: { get(n: string): string | null; getSetCookie?(): string[] }): void {
    if (this.#jar === null) return
    const all = headers.getSetCookie?.() ?? (headers.get('set-cookie') ?? '').split(/,(?=\s*zixt_)/).filter((s) => s !== '')
    for (const line of all) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      if (eq <= 0) continue
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (value === '' || /max-age=0/i.test(line) || /expires=thu, 01 jan 1970/i.test(line)) this.#jar.delete(name)
      else this.#jar.set(name, value)
    }
  }

  async request<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const r = await this.raw(method, path, body, headers)
    if (r.status >= 200 && r.status < 400) return r.body as T
    const e = (r.body as { error?: { code?: string; message?: string; field?: string } } | null)?.error
    const retry = r.headers.get('retry-after')
    throw new ApiError(r.status, e?.code ?? `HTTP_${r.status}`, e?.message ?? 'request failed', e?.field, retry === null ? undefined : Number(retry))
  }

  async csrf(): Promise<string> {
    const r = await this.request<{ csrfToken: string }>('GET', '/api/csrf')
    this.#csrf = r.csrfToken
    return r.csrfToken
  }

  // --- accounts -------------------------------------------------------------------
  registerBegin(email: string) {
    return this.request<{ registrationId: string; encryptedEmail: string }>('POST', '/api/register/begin', { email })
  }
  registerComplete(input: { registrationId: string; password: string; command: SignedCommandJson<'RegisterUser'> }) {
    return this.request<{ userId: string; deviceId: string; height: number }>('POST', '/api/register/complete', input)
  }
  verifyEmail(token: string) {
    return this.request<{ userId: string; verified: true }>('POST', '/api/email/verify', { token })
  }
  resendVerification() {
    return this.request<{ sent: true }>('POST', '/api/email/resend', {})
  }
  loginChallenge(username: string) {
    return this.request<{ challenge: string; expiresAt: number }>('POST', '/api/login/challenge', { username })
  }
  async loginRaw(body: Record<string, unknown>): Promise<SessionInfo> {
    const s = await this.request<SessionInfo>('POST', '/api/login', body)
    this.session = s
    this.#csrf = s.csrfToken
    return s
  }
  /** Challenge, device signature and password in one go. */
  async login(input: { username: string; password: string; keys: Pick<KeyFileKeys, 'userId' | 'deviceId' | 'device'>; crypto: CryptoFacade; totp?: string; backupCode?: string }): Promise<SessionInfo> {
    const { challenge } = await this.loginChallenge(input.username)
    const signature = signLoginChallenge({ challenge, username: input.username, userId: input.keys.userId, deviceId: input.keys.deviceId }, input.keys.device.secretKey, input.crypto)
    return this.loginRaw({
      username: input.username, password: input.password, deviceId: input.keys.deviceId, challenge, signature,
      ...(input.totp === undefined ? {} : { totp: input.totp }), ...(input.backupCode === undefined ? {} : { backupCode: input.backupCode }),
    })
  }
  async getSession(): Promise<SessionInfo> {
    const s = await this.request<SessionInfo>('GET', '/api/session')
    this.session = s
    this.#csrf = s.csrfToken
    return s
  }
  async logout(): Promise<void> {
    await this.request<unknown>('POST', '/api/logout', {})
    this.session = null
    this.#csrf = null
  }
  wsTicket() {
    return this.request<{ ticket: string; expiresAt: number }>('POST', '/api/ws/ticket', {})
  }
  encryptEmail(email: string, userId?: string) {
    return this.request<{ encryptedEmail: string }>('POST', '/api/email/encrypt', userId === undefined ? { email } : { email, userId })
  }
  totpBegin() {
    return this.request<{ secret: string; otpauthUrl: string }>('POST', '/api/totp/begin', {})
  }
  totpConfirm(code: string, command: SignedCommandJson<'EnrolTotp'>) {
    return this.request<{ enabled: true }>('POST', '/api/totp/confirm', { code, command })
  }
  totpRemove(code: string, command: SignedCommandJson<'RemoveTotp'>) {
    return this.request<{ enabled: false }>('POST', '/api/totp/remove', { code, command })
  }
  backupCodesBegin() {
    return this.request<{ codes: string[]; count: number; commitment: string }>('POST', '/api/backup-codes/begin', {})
  }
  backupCodesComplete(command: SignedCommandJson<'SetBackupCodes'>) {
    return this.request<{ count: number }>('POST', '/api/backup-codes/complete', { command })
  }

  // --- commands and reads ---------------------------------------------------------
  submit(command: AnySignedCommand) {
    return this.request<Committed>('POST', '/api/commands', { command })
  }
  resolveUsers(usernames: readonly string[]) {
    return this.request<{ users: { userId: string; username: string }[] }>('GET', `/api/users/resolve${q({ usernames: usernames.join(',') })}`)
  }
  user(userId: string) {
    return this.request<UserPublic>('GET', `/api/users/${encodeURIComponent(userId)}`)
  }
  myDevices() {
    return this.request<{ devices: DeviceInfo[] }>('GET', '/api/me/devices')
  }
  threads(o: { hidden?: boolean } = {}) {
    return this.request<{ threads: ThreadSummary[] }>('GET', `/api/threads${q({ hidden: o.hidden === undefined ? undefined : o.hidden ? 1 : 0 })}`)
  }
  thread(threadId: string) {
    return this.request<ThreadSummary>('GET', `/api/threads/${encodeURIComponent(threadId)}`)
  }
  members(threadId: string) {
    return this.request<{ members: { userId: string; username: string; joinedPosition: number; addedBy: string | null }[] }>('GET', `/api/threads/${encodeURIComponent(threadId)}/members`)
  }
  messages(threadId: string, o: { before?: number; after?: number; limit?: number } = {}) {
    return this.request<{ messages: Message[]; next: number | null }>('GET', `/api/threads/${encodeURIComponent(threadId)}/messages${q(o)}`)
  }
  mlsCommits(threadId: string, o: { fromEpoch?: number; limit?: number } = {}) {
    return this.request<{ commits: MlsCommit[] }>('GET', `/api/threads/${encodeURIComponent(threadId)}/mls${q(o)}`)
  }
  keyPackage(deviceId: string, ref: string) {
    return this.request<{ ref: string; userId: string; deviceId: string; keyPackage: string; lastResort: boolean }>('GET', `/api/keypackages/${encodeURIComponent(deviceId)}/${encodeURIComponent(ref)}`)
  }
  presence(userIds: readonly string[]) {
    return this.request<{ online: string[] }>('GET', `/api/presence${q({ userIds: userIds.join(',') })}`)
  }

  // --- blobs ----------------------------------------------------------------------
  putBlob(blobId: string, bytes: Uint8Array) {
    return this.request<{ blobId: string; bytes: number }>('PUT', `/api/blobs/${encodeURIComponent(blobId)}`, bytes, { 'content-type': 'application/octet-stream' })
  }
  async getBlob(blobId: string): Promise<Uint8Array> {
    return this.request<Uint8Array>('GET', `/api/blobs/${encodeURIComponent(blobId)}`)
  }

  // --- admin ----------------------------------------------------------------------
  adminUsers(o: { after?: string; limit?: number } = {}) {
    return this.request<{ users: AdminUser[]; next: string | null }>('GET', `/api/admin/users${q(o)}`)
  }
  adminCreateBegin(email: string) {
    return this.request<{ registrationId: string; encryptedEmail: string }>('POST', '/api/admin/users/begin', { email })
  }
  adminCreateUser(input: { registrationId: string; password: string; command: SignedCommandJson<'AdminCreateUser'> }) {
    return this.request<{ userId: string; height: number }>('POST', '/api/admin/users', input)
  }
  adminCommand(command: AnySignedCommand) {
    return this.request<Committed>('POST', '/api/admin/commands', { command })
  }
  adminSetPassword(userId: string, password: string) {
    return this.request<unknown>('POST', `/api/admin/users/${encodeURIComponent(userId)}/password`, { password })
  }
}
