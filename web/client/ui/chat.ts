// The chat layout: header (connection, account), thread list, thread view with live
// messages, composer with attachments, member management. Every user-supplied string is
// inserted as text.
import { limits } from '../../../domain/limits.ts'
import type { AttachmentRef } from '../core/attachments/attachment.ts'
import { detectFileType, isImage } from '../core/attachments/fileType.ts'
import { errorText, type ChatMessage, type Session, type ThreadView } from '../core/session.ts'
import type { App } from './app.ts'
import { field, formatBytes, formatTime, h, replace } from './dom.ts'

const CONNECTION_TEXT: Record<string, string> = { connecting: 'Connecting…', ready: 'Connected', reconnecting: 'Reconnecting…', closed: 'Offline' }

export class ChatView {
  readonly app: App
  readonly s: Session
  current: string | null = null
  showHidden = false
  readonly #list = h('ul', { class: 'threads', 'aria-label': 'Threads' })
  readonly #main = h('section', { id: 'main', class: 'main', 'aria-live': 'off' })
  readonly #conn = h('span', { id: 'connection', role: 'status', class: 'conn' })
  readonly #images = new Map<string, string>()
  #panel = false

  constructor(app: App, s: Session) {
    this.app = app
    this.s = s
  }

  mount(): void {
    const s = this.s
    const reconnect = h('button', { type: 'button', class: 'link', id: 'reconnect', hidden: true, onclick: () => location.reload() }, 'Reconnect')
    const header = h('header', { class: 'top' },
      h('h1', {}, 'Zixt'), this.#conn, reconnect,
      h('span', { class: 'me' }, 'Signed in as ', h('strong', { id: 'me' }, s.info.username)),
      s.info.emailVerified ? null : h('span', { class: 'warn', role: 'note' }, 'E-mail not verified: check your inbox'),
      h('nav', { 'aria-label': 'Account' },
        h('button', { type: 'button', onclick: () => this.app.showSettings() }, 'Settings'),
        s.info.admin ? h('button', { type: 'button', id: 'admin-btn', onclick: () => this.app.showAdmin() }, 'Admin') : null,
        h('button', { type: 'button', onclick: () => void this.app.logout() }, 'Log out')))
    const hiddenToggle = h('input', { type: 'checkbox', id: 'show-hidden', onchange: (ev) => { this.showHidden = (ev.target as HTMLInputElement).checked; this.renderList() } })
    const aside = h('nav', { class: 'side', 'aria-label': 'Thread list' },
      h('button', { type: 'button', id: 'new-thread', onclick: () => this.showNewThread() }, 'New thread'),
      this.#list,
      h('div', { class: 'check' }, hiddenToggle, h('label', { for: 'show-hidden' }, 'Show hidden threads')))
    replace(this.app.d.root, header, h('div', { class: 'layout' }, aside, h('div', { class: 'content' }, this.app.status, this.#main)))
    s.onChange((what) => {
      if (what === 'connection') this.renderConnection(reconnect)
      if (what === 'threads') this.renderList()
      if (what === `thread:${this.current}` && !this.#panel) this.renderThread()
      if (what === 'threads' && this.current !== null && !this.#panel) this.renderThreadHeader()
    })
    this.renderConnection(reconnect)
    this.renderList()
    this.renderEmpty()
  }

  renderConnection(reconnect: HTMLElement): void {
    this.#conn.textContent = CONNECTION_TEXT[this.s.connection] ?? this.s.connection
    this.#conn.dataset['state'] = this.s.connection
    reconnect.hidden = this.s.connection !== 'closed'
  }

  // --- thread list ----------------------------------------------------------------------------
  visibleThreads(): ThreadView[] {
    return [...this.s.threads.values()]
      .filter((t) => t.summary !== null && (this.showHidden || !t.summary.hidden))
      .sort((a, b) => (b.summary?.lastActivity ?? 0) - (a.summary?.lastActivity ?? 0))
  }

  threadTitle(t: ThreadView): string {
    if (t.name !== null) return t.name
    return t.status === 'joining' ? 'Joining encrypted thread…' : 'Unnamed thread'
  }

  renderList(): void {
    const items = this.visibleThreads().map((t) => {
      const unread = t.summary?.unread ?? 0
      const label = `${this.threadTitle(t)}${unread > 0 ? `, ${unread} unread` : ''}${t.summary?.hidden ? ', hidden' : ''}${t.status === 'removed' ? ', removed' : ''}`
      return h('li', {},
        h('button', {
          type: 'button', class: `thread${t.threadId === this.current ? ' current' : ''}`, 'data-thread-id': t.threadId,
          'aria-current': t.threadId === this.current ? 'true' : null, 'aria-label': label, onclick: () => this.open(t.threadId),
        },
          h('span', { class: 'tname' }, this.threadTitle(t)),
          unread > 0 ? h('span', { class: 'badge', 'aria-hidden': 'true' }, unread) : null,
          h('span', { class: 'tmeta', 'aria-hidden': 'true' }, t.status === 'removed' ? 'removed' : t.summary !== null && t.summary.lastActivity > 0 ? formatTime(t.summary.lastActivity) : '')))
    })
    replace(this.#list, items.length > 0 ? items : h('li', { class: 'empty' }, 'No threads yet.'))
  }

  renderEmpty(): void {
    replace(this.#main, h('div', { class: 'empty-main' }, h('p', {}, 'Choose a thread or start a new one.')))
  }

  showPanel(panel: HTMLElement): void {
    this.#panel = true
    this.current = null
    replace(this.#main, panel)
    this.renderList()
    panel.querySelector<HTMLElement>('h2')?.focus()
  }

  // --- new thread -------------------------------------------------------------------------------
  showNewThread(): void {
    const name = h('input', { name: 'name', required: true, maxlength: 100 })
    const members = h('input', { name: 'members', placeholder: 'bob, carol' })
    const err = h('p', { class: 'error', role: 'alert' })
    const form = h('form', { class: 'panel', 'aria-labelledby': 'nt-h' },
      h('h2', { id: 'nt-h', tabindex: -1 }, 'New thread'),
      field('Thread name (encrypted: only members can read it)', name),
      field('Members (usernames, comma separated)', members),
      h('button', { type: 'submit' }, 'Create'), err)
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      const list = members.value.split(',').map((x) => x.trim()).filter((x) => x.length > 0)
      this.app.busy('Creating the thread', () => this.s.createThread(name.value.trim(), list, (step) => (this.app.status.textContent = step)))
        .then((id) => this.open(id))
        .catch((e) => (err.textContent = errorText(e)))
    })
    this.showPanel(form)
    name.focus()
  }

  // --- thread view --------------------------------------------------------------------------------
  #log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' })
  #title = h('h2', { id: 'thread-title', tabindex: -1 })
  #banner = h('p', { class: 'banner', role: 'status' })
  #composer: HTMLFormElement | null = null

  open(threadId: string): void {
    this.#panel = false
    this.current = threadId
    this.#log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' })
    const t = this.s.threads.get(threadId)
    const actions = h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'members-btn', onclick: () => void this.showMembers(threadId) }, 'Members'),
      h('button', { type: 'button', id: 'hide-btn', onclick: () => void this.toggleHidden(threadId) }, t?.summary?.hidden ? 'Unhide thread' : 'Hide thread'))
    this.#composer = this.composer(threadId)
    replace(this.#main, h('div', { class: 'thread-head' }, this.#title, actions), this.#banner, this.#log, this.#composer)
    this.renderList()
    this.renderThread()
    this.s.scheduleSync(threadId)
    this.#title.focus()
  }

  renderThreadHeader(): void {
    const t = this.current === null ? undefined : this.s.threads.get(this.current)
    if (t === undefined) return
    this.#title.textContent = this.threadTitle(t)
    const hide = this.#main.querySelector<HTMLButtonElement>('#hide-btn')
    if (hide !== null) hide.textContent = t.summary?.hidden ? 'Unhide thread' : 'Hide thread'
    const banner = t.status === 'removed' ? 'You are no longer a member of this thread. New messages are not readable by you.'
      : t.status === 'joining' ? 'Waiting for the encrypted group keys (Welcome)…'
      : t.error !== null ? `Sync problem: ${t.error}` : ''
    this.#banner.textContent = banner
    this.#banner.hidden = banner === ''
    this.#banner.dataset['status'] = t.status
    if (this.#composer !== null) for (const el of this.#composer.querySelectorAll<HTMLInputElement | HTMLButtonElement | HTMLTextAreaElement>('input,button,textarea')) el.disabled = t.status !== 'active'
  }

  renderThread(): void {
    const t = this.current === null ? undefined : this.s.threads.get(this.current)
    if (t === undefined) return
    this.renderThreadHeader()
    const atBottom = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 40
    const have = new Map<string, Element>()
    for (const li of this.#log.children) have.set((li as HTMLElement).dataset['key'] ?? '', li)
    const want = t.messages.map((m) => {
      const key = `${m.id}:${m.kind}`
      return have.get(key) ?? this.message(m)
    })
    replace(this.#log, want.length > 0 ? want : h('li', { class: 'empty' }, 'No messages yet.'))
    if (atBottom) this.#log.scrollTop = this.#log.scrollHeight
    if (document.visibilityState === 'visible' && t.status === 'active') void this.s.markRead(t.threadId).catch(() => {})
  }

  message(m: ChatMessage): HTMLElement {
    const mine = m.userId === this.s.keys.userId
    const who = h('span', { class: 'who' }, mine ? 'You' : this.s.username(m.userId))
    if (!mine) void this.s.resolveUsername(m.userId).then((n) => (who.textContent = n))
    let body: HTMLElement
    if (m.kind === 'text') body = h('p', { class: 'text' }, m.text ?? '')
    else if (m.kind === 'attachment' && m.attachment !== undefined) body = this.attachment(m.attachment)
    else body = h('p', { class: 'locked' }, m.kind === 'deleted' ? 'Message deleted' : `🔒 ${m.note ?? 'not readable'}`)
    return h('li', { class: `msg${mine ? ' mine' : ''} ${m.kind}`, 'data-key': `${m.id}:${m.kind}`, 'data-message-id': m.id },
      h('div', { class: 'meta' }, who, h('time', { datetime: new Date(m.time).toISOString() }, formatTime(m.time))), body)
  }

  attachment(ref: AttachmentRef): HTMLElement {
    if (isImage(ref.type)) {
      const fig = h('figure', { class: 'image' }, h('figcaption', {}, ref.name, ' · ', formatBytes(ref.size)))
      const cached = this.#images.get(ref.blobId)
      const show = (url: string) => fig.prepend(h('img', { src: url, alt: `Image ${ref.name}` }))
      if (cached !== undefined) show(cached)
      else {
        const loading = h('p', { class: 'hint' }, 'Decrypting image…')
        fig.prepend(loading)
        this.s.downloadAttachment(ref).then(({ bytes, mime }) => {
          const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }))
          this.#images.set(ref.blobId, url)
          loading.remove()
          show(url)
        }).catch((e) => (loading.textContent = `Cannot open image: ${errorText(e)}`))
      }
      return fig
    }
    const status = h('span', { class: 'hint', role: 'status' })
    const btn = h('button', { type: 'button', class: 'download', 'data-blob-id': ref.blobId }, `Download ${ref.name}`)
    btn.addEventListener('click', () => {
      status.textContent = 'Decrypting…'
      this.s.downloadAttachment(ref).then(({ bytes, mime }) => {
        const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }))
        const a = h('a', { href: url, download: ref.name, hidden: true })
        document.body.append(a)
        a.click()
        a.remove()
        setTimeout(() => URL.revokeObjectURL(url), 60_000)
        status.textContent = ''
      }).catch((e) => (status.textContent = `Cannot open file: ${errorText(e)}`))
    })
    return h('div', { class: 'file' }, btn, h('span', { class: 'hint' }, ` ${ref.type} · ${formatBytes(ref.size)} `), status)
  }

  composer(threadId: string): HTMLFormElement {
    const text = h('textarea', { name: 'message', rows: 2, maxlength: 20000, placeholder: 'Write a message' })
    const file = h('input', { type: 'file', name: 'file', accept: '.png,.jpg,.jpeg,.gif,.bmp,.pdf,.txt,.doc,.docx' })
    const err = h('p', { class: 'error', role: 'alert' })
    const form = h('form', { class: 'composer', 'aria-label': 'Write a message' },
      field('Message', text), field('Attach a file (max 15 MiB)', file), h('button', { type: 'submit', id: 'send' }, 'Send'), err)
    text.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) {
        ev.preventDefault()
        form.requestSubmit()
      }
    })
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      void this.send(threadId, text, file).catch((e) => (err.textContent = errorText(e)))
    })
    return form
  }

  async send(threadId: string, text: HTMLTextAreaElement, file: HTMLInputElement): Promise<void> {
    const f = file.files?.[0]
    if (f !== undefined) {
      if (f.size > limits.attachmentPlainBytesMax) throw new Error(`${f.name} is ${formatBytes(f.size)}; the limit is 15 MiB.`)
      const bytes = new Uint8Array(await f.arrayBuffer())
      const type = detectFileType(bytes)
      if (type === undefined) throw new Error(`${f.name} is not a PNG, JPEG, GIF, BMP, PDF, TXT, DOC or DOCX file.`)
      await this.app.busy(`Encrypting and uploading ${f.name}`, () => this.s.sendFile(threadId, { bytes, name: f.name, type }))
      file.value = ''
    }
    const body = text.value
    if (body.trim().length > 0) {
      text.value = ''
      try {
        await this.s.sendText(threadId, body)
      } catch (e) {
        text.value = body
        throw e
      }
    }
    text.focus()
  }

  async toggleHidden(threadId: string): Promise<void> {
    const t = this.s.threads.get(threadId)
    const hide = !(t?.summary?.hidden ?? false)
    await this.s.hideThread(threadId, hide)
    if (hide && !this.showHidden) {
      this.current = null
      this.renderEmpty()
      this.app.status.textContent = 'Thread hidden. Find it under “Show hidden threads”.'
    } else this.renderThreadHeader()
    this.renderList()
  }

  async showMembers(threadId: string): Promise<void> {
    const t = this.s.threads.get(threadId)
    const err = h('p', { class: 'error', role: 'alert' })
    const list = h('ul', { class: 'members', 'aria-label': 'Members' })
    const owner = t?.summary?.owner === this.s.keys.userId
    const refresh = async () => {
      const members = await this.s.members(threadId)
      replace(list, members.map((m) => h('li', {},
        h('span', {}, m.username, m.userId === t?.summary?.owner ? ' (owner)' : '', m.userId === this.s.keys.userId ? ' (you)' : ''),
        owner && m.userId !== this.s.keys.userId
          ? h('button', { type: 'button', 'aria-label': `Remove ${m.username}`, onclick: () => {
              this.app.busy(`Removing ${m.username} and rotating the group keys`, () => this.s.removeMember(threadId, m.userId)).then(refresh).catch((e) => (err.textContent = errorText(e)))
            } }, 'Remove')
          : null)))
    }
    const who = h('input', { name: 'username', required: true })
    const add = h('form', { class: 'inline' }, field('Add member (username)', who), h('button', { type: 'submit' }, 'Add'))
    add.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      this.app.busy(`Adding ${who.value.trim()}`, () => this.s.addMember(threadId, who.value.trim())).then(() => { who.value = ''; return refresh() }).catch((e) => (err.textContent = errorText(e)))
    })
    const panel = h('section', { class: 'panel', 'aria-labelledby': 'mem-h' },
      h('h2', { id: 'mem-h', tabindex: -1 }, 'Members of ', t === undefined ? '' : this.threadTitle(t)),
      list, owner ? add : h('p', { class: 'hint' }, 'Only the owner can add or remove members.'), err,
      h('button', { type: 'button', onclick: () => this.open(threadId) }, 'Back to the thread'))
    this.showPanel(panel)
    this.current = threadId
    await refresh().catch((e) => (err.textContent = errorText(e)))
  }
}
