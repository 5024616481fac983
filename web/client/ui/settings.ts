// Settings: account and key fingerprints, devices, device key rotation, TOTP, key export,
// and a contact's fingerprint to compare out of band.
import { fingerprint } from '../../../domain/identity.ts'
import { keyFileToJson } from '../../../domain/keyfile.ts'
import { ErrorCode } from '../../../domain/errors.ts'
import { loadAccount, saveAccount } from '../core/store/vault.ts'
import { errorText, type Session } from '../core/session.ts'
import type { KvStore } from '../core/store/kv.ts'
import type { App } from './app.ts'
import { field, formatTime, h, replace } from './dom.ts'

/**
 * Rotates this device's key and reseals the stored key file under `password`. The password
 * must first open the key file stored now: resealing under an unchecked (mistyped) one
 * would leave the only copy of the keys under a password nobody knows.
 */
export async function rotateDeviceKey(kv: KvStore, s: Pick<Session, 'api' | 'slow' | 'info' | 'keys'>, password: string, now: () => number): Promise<void> {
  const rec = await loadAccount(kv, s.info.username)
  if (rec === undefined) throw new Error(`This browser holds no key file for "${s.info.username}"; the key was not rotated.`)
  let opened
  try {
    opened = await s.slow.openKeyFile({ keyFile: rec.keyFile, password })
  } catch (e) {
    if ((e as { code?: string }).code === ErrorCode.decryptFailed) throw new Error('Wrong password: it does not open the key file stored in this browser. The key was not rotated.')
    throw e
  }
  const same = opened.userId === s.keys.userId && opened.deviceId === s.keys.deviceId
  opened.identity.secretKey.fill(0)
  opened.device.secretKey.fill(0)
  if (!same) throw new Error('The key file stored in this browser belongs to another device; the key was not rotated.')
  const { keys, command } = await s.slow.rotateDeviceKey({ keys: s.keys, now: now() })
  const keyFile = await s.slow.sealKeyFile({ keys, password, now: now() })
  await s.api.submit(command as never)
  await saveAccount(kv, { ...rec, keyFile })
  s.keys = keys
}

export function settingsView(app: App, s: Session): HTMLElement {
  const err = h('p', { class: 'error', role: 'alert' })
  const ok = h('p', { class: 'notice', role: 'status' })
  const fail = (e: unknown) => (err.textContent = errorText(e))

  const devices = h('ul', { class: 'devices', 'aria-label': 'Devices' })
  const loadDevices = async () => {
    const { devices: list } = await s.api.myDevices()
    replace(devices, list.map((d) => h('li', {},
      h('code', {}, d.deviceId.slice(0, 12), '…'), ` key v${d.keyVersion}, issued ${formatTime(d.issuedAt)}, ${d.status}`,
      d.deviceId === s.keys.deviceId ? ' (this browser)' : '')))
  }
  void loadDevices().catch(fail)

  const rotate = h('button', { type: 'button' }, 'Rotate this device’s key')
  rotate.addEventListener('click', () => {
    err.textContent = ''
    const pw = prompt('Your current password (checked against the key file here; the rotated key is sealed under it):')
    if (pw === null) return
    app.busy('Rotating the device key (SPHINCS+ certificate, takes a few seconds)', () => rotateDeviceKey(app.d.kv, s, pw, Date.now)).then(() => { ok.textContent = 'Device key rotated.'; return loadDevices() }).catch(fail)
  })

  const exportBtn = h('button', { type: 'button', id: 'export-key' }, 'Download my key file')
  exportBtn.addEventListener('click', () => {
    loadAccount(app.d.kv, s.info.username).then((rec) => {
      if (rec === undefined) throw new Error('no key file stored')
      const url = URL.createObjectURL(new Blob([keyFileToJson(rec.keyFile)], { type: 'application/json' }))
      const a = h('a', { href: url, download: `${s.info.username}.zixtkey.json`, hidden: true })
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
    }).catch(fail)
  })

  const totpBox = h('div', {})
  const renderTotp = () => {
    if (s.info.totpEnabled) {
      const code = h('input', { inputmode: 'numeric', pattern: '[0-9]{6}', required: true })
      const f = h('form', { class: 'inline' }, field('Code to turn two-factor off', code), h('button', { type: 'submit' }, 'Turn off'))
      f.addEventListener('submit', (ev) => {
        ev.preventDefault()
        s.api.totpRemove(code.value.trim(), s.command('RemoveTotp', {}) as never).then(() => { s.info = { ...s.info, totpEnabled: false }; renderTotp() }).catch(fail)
      })
      replace(totpBox, h('p', {}, 'Two-factor login is on.'), f)
      return
    }
    const begin = h('button', { type: 'button' }, 'Set up two-factor login (TOTP)')
    begin.addEventListener('click', () => {
      s.api.totpBegin().then(({ secret, otpauthUrl }) => {
        const code = h('input', { inputmode: 'numeric', pattern: '[0-9]{6}', required: true })
        const f = h('form', { class: 'inline' }, field('Code from your app', code), h('button', { type: 'submit' }, 'Confirm'))
        f.addEventListener('submit', (ev) => {
          ev.preventDefault()
          s.api.totpConfirm(code.value.trim(), s.command('EnrolTotp', {}) as never).then(() => { s.info = { ...s.info, totpEnabled: true }; renderTotp() }).catch(fail)
        })
        replace(totpBox, h('p', {}, 'Add this secret to your authenticator app: ', h('code', { id: 'totp-secret' }, secret)), h('p', { class: 'hint' }, otpauthUrl), f)
      }).catch(fail)
    })
    replace(totpBox, begin)
  }
  renderTotp()

  const contact = h('input', { name: 'contact', required: true })
  const contactOut = h('div', { 'aria-live': 'polite' })
  const contactForm = h('form', { class: 'inline' }, field('Username', contact), h('button', { type: 'submit' }, 'Show fingerprint'))
  contactForm.addEventListener('submit', (ev) => {
    ev.preventDefault()
    s.contactFingerprint(contact.value.trim()).then((c) => replace(contactOut,
      h('p', {}, 'Identity key of ', h('strong', {}, c.username), ': ', h('code', { class: 'fp' }, c.fingerprint)),
      h('ul', {}, c.devices.map((d) => h('li', {}, 'Device ', h('code', {}, d.fingerprint), ` (${d.status})`))),
      h('p', { class: 'hint' }, 'Compare it with what they see under Settings on their device, in person or by phone.'))).catch(fail)
  })

  return h('section', { class: 'panel settings', 'aria-labelledby': 'set-h' },
    h('h2', { id: 'set-h', tabindex: -1 }, 'Settings'), err, ok,
    h('h3', {}, 'Your keys'),
    h('p', {}, 'Identity key (SPHINCS+) fingerprint: ', h('code', { class: 'fp', id: 'my-fp' }, fingerprint(s.keys.identity.publicKey, s.crypto))),
    h('p', {}, 'This device’s key (ML-DSA-65): ', h('code', { class: 'fp' }, fingerprint(s.keys.device.publicKey, s.crypto))),
    exportBtn, h('p', { class: 'hint' }, 'The key file is encrypted with your password. Import it in another browser to use this account there.'),
    h('h3', {}, 'Devices'), devices, rotate,
    h('h3', {}, 'Two-factor login'), totpBox,
    h('h3', {}, 'Compare a contact’s key'), contactForm, contactOut)
}
