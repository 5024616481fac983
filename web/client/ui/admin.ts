// Admin panel: list and edit users (username, e-mail, admin flag), disable/enable.
// Admins sign these commands with their own device key; they never see messages.
import type { AdminUser } from '../core/api/client.ts'
import { errorText, type Session } from '../core/session.ts'
import type { App } from './app.ts'
import { field, h, replace } from './dom.ts'

export function adminView(app: App, s: Session): HTMLElement {
  const err = h('p', { class: 'error', role: 'alert' })
  const ok = h('p', { class: 'notice', role: 'status' })
  const body = h('tbody', {})
  const editor = h('div', {})
  const fail = (e: unknown) => (err.textContent = errorText(e))

  const load = async () => {
    const users: AdminUser[] = []
    let after: string | undefined
    for (let i = 0; i < 50; i++) {
      const page = await s.api.adminUsers(after === undefined ? { limit: 100 } : { after, limit: 100 })
      users.push(...page.users)
      if (page.next === null) break
      after = page.next
    }
    replace(body, users.map((u) => h('tr', { 'data-user-id': u.userId },
      h('td', { class: 'u-name' }, u.username), h('td', { class: 'u-email' }, u.email ?? '—'),
      h('td', {}, u.admin ? 'admin' : ''), h('td', {}, u.disabled ? 'disabled' : u.deleted ? 'deleted' : 'active'),
      h('td', {}, u.emailVerified ? 'yes' : 'no'),
      h('td', {}, h('button', { type: 'button', 'aria-label': `Edit ${u.username}`, onclick: () => edit(u) }, 'Edit'))))) 
  }

  const edit = (u: AdminUser) => {
    const name = h('input', { name: 'username', value: u.username, required: true })
    const email = h('input', { name: 'email', type: 'email', value: u.email ?? '' })
    const admin = h('input', { name: 'admin', type: 'checkbox', checked: u.admin })
    const form = h('form', { class: 'card', 'aria-labelledby': 'ed-h' },
      h('h3', { id: 'ed-h' }, 'Edit ', u.username), field('Username', name), field('E-mail', email),
      h('div', { class: 'check' }, admin, h('label', { for: (admin.id = `adm-${u.userId.slice(0, 8)}`) }, 'Administrator')),
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', onclick: () => toggle(u) }, u.disabled ? 'Enable user' : 'Disable user'))
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      err.textContent = ''
      save(u, name.value.trim(), email.value.trim(), admin.checked).then(() => { ok.textContent = `Saved ${name.value.trim()}.`; replace(editor); return load() }).catch(fail)
    })
    replace(editor, form)
    name.focus()
  }

  const save = async (u: AdminUser, username: string, email: string, admin: boolean) => {
    const payload: { userId: string; username?: string; encryptedEmail?: string; admin?: boolean } = { userId: u.userId }
    if (username !== u.username) payload.username = username
    if (email !== '' && email !== u.email) payload.encryptedEmail = (await s.api.encryptEmail(email, u.userId)).encryptedEmail
    if (admin !== u.admin) payload.admin = admin
    if (Object.keys(payload).length === 1) throw new Error('Nothing changed.')
    await s.api.adminCommand(s.command('AdminEditUser', payload))
  }

  const toggle = (u: AdminUser) => {
    s.api.adminCommand(s.command(u.disabled ? 'AdminEnableUser' : 'AdminDisableUser', { userId: u.userId }))
      .then(() => { replace(editor); return load() }).catch(fail)
  }

  void load().catch(fail)
  void app
  return h('section', { class: 'panel admin', 'aria-labelledby': 'adm-h' },
    h('h2', { id: 'adm-h', tabindex: -1 }, 'Users'), h('p', { class: 'hint' }, 'Admins manage accounts. Messages stay end-to-end encrypted: admins cannot read them.'),
    err, ok,
    h('table', {}, h('thead', {}, h('tr', {}, ['Username', 'E-mail', 'Role', 'Status', 'Verified', ''].map((c) => h('th', { scope: 'col' }, c)))), body),
    editor)
}
