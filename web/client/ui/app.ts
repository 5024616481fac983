// The page shell: sign-in screens (log in, register, import a key file, verify e-mail),
// unlock after a reload, and the chat layout once a Session is open.
import type { CryptoFacade } from '../../../domain/crypto/types.ts'
import { parseKeyFile } from '../../../domain/keyfile.ts'
import { ApiError, type ApiClient, type SessionInfo } from '../core/api/client.ts'
import { errorText, Session } from '../core/session.ts'
import type { SlowOps } from '../core/slowOps.ts'
import type { KvStore } from '../core/store/kv.ts'
import { loadAccount, openVault, saveAccount, type AccountRecord } from '../core/store/vault.ts'
import { adminView } from './admin.ts'
import { field, h, replace } from './dom.ts'
import { settingsView } from './settings.ts'
import { ChatView } from './chat.ts'

export type AppDeps = { api: ApiClient; crypto: CryptoFacade; kv: KvStore; slow: SlowOps; root: HTMLElement; wsUrl: string }

/** How long logout waits for queued thread work before locking anyway. */
const logoutIdleWaitMs = 10_000

/**
 * Stops a session and wipes its vault key. Queued thread work (a sync, a commit) still
 * writes to the vault, so it gets to finish first (bounded: a hung request must not block
 * logout); anything later fails with ZIXT_ERR_VAULT_CLOSED instead of sealing a record
 * under the wiped key.
 */
export async function endSession(s: Pick<Session, 'close' | 'idle' | 'vault'>, waitMs = logoutIdleWaitMs): Promise<void> {
  s.close()
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([s.idle(), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))])
  } finally {
    clearTimeout(timer)
    s.vault.close()
  }
}

export class App {
  readonly d: AppDeps
  session: Session | null = null
  #chat: ChatView | null = null
  readonly status: HTMLElement

  constructor(d: AppDeps) {
    this.d = d
    this.status = h('p', { id: 'busy', role: 'status', 'aria-live': 'polite', class: 'busy' })
  }

  async start(): Promise<void> {
    const params = new URLSearchParams(location.search)
    let notice: string | null = null
    if (params.get('verified') === '1') notice = 'Your e-mail address is verified. Unlock to continue.'
    if (params.get('verified') === '0') notice = `E-mail verification failed (${params.get('error') ?? 'unknown error'}).`
    if (params.has('verified')) history.replaceState(null, '', '/')
    let info: SessionInfo | null = null
    try {
      info = await this.d.api.getSession()
    } catch {
      info = null
    }
    if (info !== null && (await loadAccount(this.d.kv, info.username)) !== undefined) return this.unlockScreen(info, notice)
    this.authScreen(notice)
  }

  /** Runs slow work with a visible, announced progress line (elapsed seconds). */
  async busy<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now()
    this.status.textContent = `${what}…`
    const timer = setInterval(() => {
      this.status.textContent = `${what}… ${Math.round((Date.now() - started) / 1000)} s`
    }, 500)
    try {
      return await fn()
    } finally {
      clearInterval(timer)
      this.status.textContent = ''
    }
  }

  // --- before a session -----------------------------------------------------------------------
  authScreen(notice: string | null = null, prefill = ''): void {
    const err = h('p', { class: 'error', role: 'alert' })
    const show = (e: unknown) => (err.textContent = errorText(e))

    const lu = h('input', { name: 'username', autocomplete: 'username', required: true, value: prefill })
    const lp = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })
    const lt = h('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}' })
    const login = h('form', { 'aria-labelledby': 'login-h', class: 'card' },
      h('h2', { id: 'login-h' }, 'Log in'),
      field('Username', lu), field('Password', lp), field('Two-factor code (if enabled)', lt),
      h('button', { type: 'submit' }, 'Log in'))
    login.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      this.login(lu.value.trim(), lp.value, lt.value.trim() || undefined).catch(show)
    })

    const ru = h('input', { name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 32 })
    const re = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true })
    const rp = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 })
    const register = h('form', { 'aria-labelledby': 'reg-h', class: 'card' },
      h('h2', { id: 'reg-h' }, 'Create an account'),
      field('Username', ru), field('E-mail', re), field('Password', rp, 'At least 10 characters. It also protects the keys stored in this browser.'),
      h('button', { type: 'submit' }, 'Register'))
    register.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      this.register(ru.value.trim(), re.value.trim(), rp.value).catch(show)
    })

    const kf = h('input', { name: 'keyfile', type: 'file', accept: '.json,application/json', required: true })
    const kp = h('input', { name: 'passphrase', type: 'password', autocomplete: 'current-password', required: true })
    const importForm = h('form', { 'aria-labelledby': 'imp-h', class: 'card' },
      h('h2', { id: 'imp-h' }, 'Use an existing key file'),
      h('p', {}, 'Import the key file from another browser or from `npx zixt keygen` / `zixt admin create`, then log in.'),
      field('Key file', kf), field('Key file passphrase', kp),
      h('button', { type: 'submit' }, 'Import key file'))
    importForm.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      const file = kf.files?.[0]
      if (file === undefined) return
      this.importKeyFile(file, kp.value).then((username) => this.authScreen(`Key file for ${username} imported. Log in now.`, username)).catch(show)
    })

    const vt = h('input', { name: 'token', required: true })
    const verify = h('form', { 'aria-labelledby': 'ver-h', class: 'card' },
      h('h2', { id: 'ver-h' }, 'Verify your e-mail'), field('Code from the e-mail', vt), h('button', { type: 'submit' }, 'Verify'))
    verify.addEventListener('submit', (ev) => {
      ev.preventDefault()
      this.d.api.verifyEmail(vt.value.trim()).then(() => this.authScreen('E-mail verified. Log in now.')).catch(show)
    })

    replace(this.d.root,
      h('header', { class: 'top' }, h('h1', {}, 'Zixt'), h('span', { class: 'tag' }, 'post-quantum end-to-end encrypted chat')),
      h('main', { id: 'auth', class: 'auth' },
        notice === null ? null : h('p', { class: 'notice', role: 'status' }, notice),
        err, this.status, h('div', { class: 'cards' }, login, register, importForm, verify)))
    ;(prefill ? lp : lu).focus()
  }

  unlockScreen(info: SessionInfo, notice: string | null): void {
    const err = h('p', { class: 'error', role: 'alert' })
    const pw = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })
    const form = h('form', { class: 'card', 'aria-labelledby': 'unl-h' },
      h('h2', { id: 'unl-h' }, `Unlock ${info.username}`),
      h('p', {}, 'Your keys are stored encrypted in this browser. Enter your password to open them.'),
      field('Password', pw), h('button', { type: 'submit' }, 'Unlock'),
      h('button', { type: 'button', class: 'link', onclick: () => void this.logout() }, 'Log out instead'))
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      this.unlock(info, pw.value).catch((e) => (err.textContent = errorText(e)))
    })
    replace(this.d.root,
      h('header', { class: 'top' }, h('h1', {}, 'Zixt')),
      h('main', { class: 'auth' }, notice === null ? null : h('p', { class: 'notice', role: 'status' }, notice), err, this.status, form))
    pw.focus()
  }

  async #openKeys(rec: AccountRecord, password: string) {
    try {
      return await this.busy('Opening your keys (scrypt)', () => this.d.slow.openKeyFile({ keyFile: rec.keyFile, password }))
    } catch (e) {
      throw new Error((e as { code?: string }).code === 'ZIXT_ERR_DECRYPT_FAILED' ? 'Wrong password for the keys stored in this browser.' : errorText(e))
    }
  }

  async login(username: string, password: string, totp?: string): Promise<void> {
    const rec = await loadAccount(this.d.kv, username)
    if (rec === undefined) throw new Error(`This browser holds no key for "${username}". Import your key file first.`)
    const keys = await this.#openKeys(rec, password)
    let info: SessionInfo
    try {
      info = await this.d.api.login({ username, password, keys, crypto: this.d.crypto, ...(totp === undefined ? {} : { totp }) })
    } catch (e) {
      if (e instanceof ApiError && e.code === 'ZIXT_ERR_TOTP_REQUIRED') throw new Error('Enter the 6-digit code from your authenticator app.')
      if (e instanceof ApiError && e.code === 'ZIXT_ERR_LOGIN_FAILED') throw new Error('Wrong username or password.')
      throw e
    }
    await this.#open(rec, keys, info)
  }

  async unlock(info: SessionInfo, password: string): Promise<void> {
    const rec = await loadAccount(this.d.kv, info.username)
    if (rec === undefined) throw new Error('no key for this account in this browser')
    const keys = await this.#openKeys(rec, password)
    await this.#open(rec, keys, info)
  }

  async #open(rec: AccountRecord, keys: Awaited<ReturnType<SlowOps['openKeyFile']>>, info: SessionInfo): Promise<void> {
    const { vault, record } = openVault(this.d.kv, this.d.crypto, rec, keys)
    if (record !== rec) await saveAccount(this.d.kv, record)
    this.session = await this.busy('Loading your encrypted threads', () =>
      Session.open({ api: this.d.api, crypto: this.d.crypto, vault, slow: this.d.slow, keys, info, wsUrl: this.d.wsUrl }),
    )
    this.session.onChange((what) => {
      if (what === 'sessionEnded') void this.logout('Your session ended.')
    })
    this.#chat = new ChatView(this, this.session)
    this.#chat.mount()
    await this.session.start()
  }

  async register(username: string, email: string, password: string): Promise<void> {
    if (password.length < 10) throw new Error('The password needs at least 10 characters.')
    const { registrationId, encryptedEmail } = await this.d.api.registerBegin(email)
    const made = await this.busy('Generating post-quantum keys and signing with SPHINCS+ (takes a few seconds)', () =>
      this.d.slow.newAccount({ username, encryptedEmail, password, now: Date.now() }),
    )
    await this.busy('Registering on the ledger', () => this.d.api.registerComplete({ registrationId, password, command: made.command }))
    await saveAccount(this.d.kv, { v: 1, username, userId: made.keys.userId, deviceId: made.keys.deviceId, keyFile: made.keyFile, wrappedVaultKey: null })
    const info = await this.d.api.login({ username, password, keys: made.keys, crypto: this.d.crypto })
    const rec = (await loadAccount(this.d.kv, username))!
    await this.#open(rec, made.keys, info)
  }

  async importKeyFile(file: File, passphrase: string): Promise<string> {
    if (file.size > 64 * 1024) throw new Error('That is not a Zixt key file (too large).')
    const keyFile = parseKeyFile(await file.text())
    const keys = await this.busy('Checking the key file (scrypt)', () => this.d.slow.openKeyFile({ keyFile, password: passphrase }))
    const username = keys.username ?? keyFile.username
    if (username === null) throw new Error('The key file has no username.')
    await saveAccount(this.d.kv, { v: 1, username, userId: keys.userId, deviceId: keys.deviceId, keyFile, wrappedVaultKey: null })
    return username
  }

  async logout(notice: string | null = null): Promise<void> {
    const s = this.session
    this.session = null // a second logout (button, then sessionEnded) finds nothing to close
    this.#chat = null
    if (s !== null) await this.busy('Saving and locking your keys', () => endSession(s))
    try {
      await this.d.api.logout()
    } catch {
      // already gone
    }
    this.authScreen(notice)
  }

  showSettings(): void {
    if (this.session !== null && this.#chat !== null) this.#chat.showPanel(settingsView(this, this.session))
  }

  showAdmin(): void {
    if (this.session !== null && this.#chat !== null) this.#chat.showPanel(adminView(this, this.session))
  }
}
