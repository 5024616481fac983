// Admin routes, TOTP and backup codes, blob limits and access, ws Origin, device revocation
// and logout — through the whole stack (real cluster, MariaDB, Redis, web), with clients
// built on web/client/core/api as the browser's.
import t, { type Test } from 'tap'
import { createHmac } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import WebSocket from 'ws'
import { toBase64url } from '../../domain/encoding.ts'
import { signDeviceCertificate } from '../../domain/identity.ts'
import { newUserKeys } from '../../domain/keyfile.ts'
import { ApiClient, ApiError } from '../client/core/api/client.ts'
import { buildCommand, randomId } from '../client/core/api/commands.ts'
import type { ServerMessage } from '../client/core/api/live.ts'
import { blobFiles, crypto, password, startWebStack, waitFor, type WebStack } from './fuzz/stack.ts'
import { errorCode, rawRequest } from './fuzz/http.ts'

t.setTimeout(240_000)
let s: WebStack
t.before(async () => {
  s = await startWebStack({ tag: 'acct' })
})
t.teardown(async () => s?.stop())

const now = () => Date.now()
type Asserts = Test
const rejects = async (t: Asserts, p: Promise<unknown>, status: number, code: string, what: string) => {
  const e = await p.then(() => null, (x: unknown) => x)
  t.ok(e instanceof ApiError, `${what}: refused`)
  t.same(e instanceof ApiError ? [e.status, e.code] : e, [status, code], what)
}

// RFC 4648 base32 and RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s), written here from the RFCs
// so the test does not trust the server's own implementation.
function base32Decode(s: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const ch of s.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(ch)
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return new Uint8Array(out)
}
function totp(secret: Uint8Array, timeMs: number): string {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(timeMs / 1000 / 30)))
  const mac = createHmac('sha1', secret).update(counter).digest()
  const o = mac[19]! & 0xf
  const bin = ((mac[o]! & 0x7f) << 24) | (mac[o + 1]! << 16) | (mac[o + 2]! << 8) | mac[o + 3]!
  return String(bin % 1_000_000).padStart(6, '0')
}
t.test('the TOTP used here matches RFC 6238 appendix B (SHA-1)', async (t) => {
  const secret = new TextEncoder().encode('12345678901234567890')
  t.equal(totp(secret, 59_000), '287082') // 94287082, 6 digits
  t.equal(totp(secret, 1_111_111_109_000), '081804')
})

const ledgerHas = (needle: Uint8Array): boolean => {
  const dir = join(s.dataDir, 'replica-0', 'ledger')
  return readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(Buffer.from(needle)))
}

t.test('admin: create, edit, disable, delete, replace key; non-admins get 403; no messages for admins', async (t) => {
  const root = await s.createAdmin('root')
  t.equal((await root.api.getSession()).admin, true, '`zixt admin create` made an admin who logs in with the key file it wrote')
  const alice = await s.register('alice')
  const bob = await s.register('bob')

  // a thread the admin is not in, with a message and an attachment
  const threadId = randomId(crypto)
  await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, now(), crypto))
  const blob = crypto.randomBytes(2000)
  const blobId = Buffer.from(crypto.sha256(blob)).toString('hex')
  await alice.api.putBlob(blobId, blob)
  const ciphertext = toBase64url(crypto.randomBytes(48))
  await alice.api.submit(buildCommand('PostMessage', { threadId, epoch: 0, ciphertext, attachments: [{ blobId, ciphertextBytes: blob.length, type: 'PDF' }] }, alice.keys, now(), crypto))
  t.equal((await bob.api.messages(threadId)).messages[0]!.ciphertext, ciphertext, 'a member reads the message')

  // non-admins
  await rejects(t, bob.api.adminUsers(), 403, 'ZIXT_ERR_NOT_ADMIN', 'a non-admin cannot list users')
  await rejects(t, bob.api.adminCreateBegin('x@example.org'), 403, 'ZIXT_ERR_NOT_ADMIN', 'a non-admin cannot begin creating a user')
  await rejects(t, bob.api.adminCommand(buildCommand('AdminDisableUser', { userId: alice.userId }, bob.keys, now(), crypto)), 403, 'ZIXT_ERR_NOT_ADMIN', 'a non-admin cannot send admin commands')
  await rejects(t, bob.api.submit(buildCommand('AdminDisableUser', { userId: alice.userId }, bob.keys, now(), crypto)), 403, 'ZIXT_ERR_NOT_ADMIN', 'not through /api/commands either')
  await rejects(t, bob.api.adminSetPassword(alice.userId, 'another long password'), 403, 'ZIXT_ERR_NOT_ADMIN', 'a non-admin cannot set passwords')
  await rejects(t, bob.api.encryptEmail('x@example.org', alice.userId), 403, 'ZIXT_ERR_NOT_ADMIN', "a non-admin cannot encrypt for another user's key")

  // admins cannot read messages
  await rejects(t, root.api.messages(threadId), 403, 'ZIXT_ERR_NOT_MEMBER', "the admin cannot read a thread's messages")
  await rejects(t, root.api.thread(threadId), 403, 'ZIXT_ERR_NOT_MEMBER', 'nor its summary')
  await rejects(t, root.api.members(threadId), 403, 'ZIXT_ERR_NOT_MEMBER', 'nor its members')
  await rejects(t, root.api.mlsCommits(threadId), 403, 'ZIXT_ERR_NOT_MEMBER', 'nor its MLS commits')
  await rejects(t, root.api.getBlob(blobId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'nor its attachment')
  t.same((await root.api.threads()).threads, [], 'the thread is not in the admin thread list')
  const listing = await root.api.adminUsers()
  t.notOk(JSON.stringify(listing).includes(ciphertext), 'the user list carries no ciphertext')
  const bobRow = listing.users.find((u) => u.userId === bob.userId)!
  t.same([bobRow.username, bobRow.email, bobRow.admin, bobRow.disabled, bobRow.emailVerified], ['bob', 'bob@example.org', false, false, true], 'the admin sees users with decrypted e-mail')

  // create a user
  const carolKeys = newUserKeys(crypto, 'carol')
  const begun = await root.api.adminCreateBegin('carol@example.org')
  const created = await root.api.adminCreateUser({
    registrationId: begun.registrationId, password,
    command: buildCommand('AdminCreateUser', { userId: carolKeys.userId, username: 'carol', identityPublicKey: toBase64url(carolKeys.identity.publicKey), encryptedEmail: begun.encryptedEmail, admin: false }, root.keys, now(), crypto),
  })
  t.equal(created.userId, carolKeys.userId, 'the admin created Carol')
  await waitFor('the verification mail to Carol', () => s.mails.find((m) => m.to === 'carol@example.org'))

  // Carol has no device yet: she enrols one with her identity key and the password the admin set, then logs in
  await rejects(t, s.login('carol', carolKeys), 401, 'ZIXT_ERR_LOGIN_FAILED', 'an admin-created user has no device to log in with')
  const enrol = (keys: typeof carolKeys, userId: string, username: string, pw = password) => {
    const device = signDeviceCertificate({ userId, deviceId: keys.deviceId, devicePublicKey: keys.device.publicKey, issuedAt: now(), identitySecretKey: keys.identity.secretKey }, crypto)
    const command = buildCommand('AddDevice', { device }, { ...keys, userId }, now(), crypto)
    return new ApiClient({ baseUrl: s.url, cookieJar: true }).request<{ userId: string; deviceId: string; height: number }>('POST', '/api/devices/enrol', { username, password: pw, command })
  }
  const noCsrf = await rawRequest(s.url, 'POST', '/api/devices/enrol', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password, command: {} }) })
  t.same([noCsrf.status, errorCode(noCsrf)], [403, 'ZIXT_ERR_CSRF'], 'enrolment needs the pre-session CSRF token')
  await rejects(t, enrol(carolKeys, carolKeys.userId, 'carol', 'not her password at all'), 401, 'ZIXT_ERR_LOGIN_FAILED', 'enrolment with a wrong password is refused')
  await rejects(t, enrol(carolKeys, carolKeys.userId, 'root'), 403, 'ZIXT_ERR_WRONG_SIGNER', "Carol's command cannot enrol into another account, even with that account's password")
  t.same((await root.api.user(carolKeys.userId)).devices, [], 'a refused enrolment adds no device')
  const enrolled = await enrol(carolKeys, carolKeys.userId, 'carol')
  t.same([enrolled.userId, enrolled.deviceId], [carolKeys.userId, carolKeys.deviceId], 'Carol enrolled a device with her identity key')
  const carol = await s.login('carol', carolKeys)
  t.equal((await carol.api.getSession()).deviceId, carolKeys.deviceId, 'and logs in with it')
  for (const k of await s.sys.redis.keys(`${s.prefix}lf:*`)) await s.sys.redis.del(k) // the failures above count against this IP too
  t.match((await root.api.adminUsers()).users.find((u) => u.userId === carolKeys.userId), { username: 'carol', email: 'carol@example.org', admin: false }, 'Carol is listed')

  // edit: username, e-mail, admin flag
  const { encryptedEmail } = await root.api.encryptEmail('carol.new@example.org', carolKeys.userId)
  await root.api.adminCommand(buildCommand('AdminEditUser', { userId: carolKeys.userId, username: 'caroline', encryptedEmail, admin: true }, root.keys, now(), crypto))
  t.match((await root.api.adminUsers()).users.find((u) => u.userId === carolKeys.userId), { username: 'caroline', email: 'carol.new@example.org', admin: true }, 'username, e-mail and admin flag changed')
  await waitFor('a verification mail to the new address', () => s.mails.find((m) => m.to === 'carol.new@example.org'))
  t.same((await bob.api.resolveUsers(['caroline', 'carol'])).users.map((u) => u.username), ['caroline'], 'the new username resolves, the old one not')
  await root.api.adminCommand(buildCommand('AdminEditUser', { userId: carolKeys.userId, admin: false }, root.keys, now(), crypto))
  t.equal((await root.api.adminUsers()).users.find((u) => u.userId === carolKeys.userId)!.admin, false, 'admin flag revoked again')

  // disable Bob: his session and his live socket end; enable him again
  const bobGot: ServerMessage[] = []
  await s.live(bob, bobGot)
  await root.api.adminCommand(buildCommand('AdminDisableUser', { userId: bob.userId }, root.keys, now(), crypto))
  await rejects(t, bob.api.getSession(), 401, 'ZIXT_ERR_UNAUTHENTICATED', "a disabled user's session ends")
  await waitFor('Bob told his session ended', () => bobGot.find((m) => m.type === 'sessionEnded' && m.reason === 'userDisabled'), 8000)
  t.pass('his live socket was told userDisabled')
  await rejects(t, s.login('bob', bob.keys), 401, 'ZIXT_ERR_LOGIN_FAILED', 'a disabled user cannot log in')
  await root.api.adminCommand(buildCommand('AdminEnableUser', { userId: bob.userId }, root.keys, now(), crypto))
  await s.sys.redis.del(`${s.prefix}lf:u:bob`)
  const bob2 = await s.login('bob', bob.keys)
  t.equal((await bob2.api.getSession()).userId, bob.userId, 'enabled again, Bob logs in')

  // replace Bob's identity key: his devices are revoked, his sessions end
  const fresh = newUserKeys(crypto, 'bob')
  await root.api.adminCommand(buildCommand('AdminReplaceUserKey', { userId: bob.userId, identityPublicKey: toBase64url(fresh.identity.publicKey) }, root.keys, now(), crypto))
  await rejects(t, bob2.api.getSession(), 401, 'ZIXT_ERR_UNAUTHENTICATED', "after a key replacement the user's device sessions end")
  const pub = await alice.api.user(bob.userId)
  t.equal(pub.identityPublicKey, toBase64url(fresh.identity.publicKey), 'the new identity key is published')
  t.ok(pub.devices.every((d) => d.status === 'revoked'), 'every old device is revoked')
  const bobOldKey = { ...newUserKeys(crypto, 'bob'), identity: bob.keys.identity }
  await rejects(t, enrol(bobOldKey, bob.userId, 'bob'), 400, 'ZIXT_ERR_BAD_SIGNATURE', 'the replaced identity key cannot enrol a device')
  const bobNew = { ...newUserKeys(crypto, 'bob'), identity: fresh.identity, userId: bob.userId }
  t.equal((await enrol(bobNew, bob.userId, 'bob')).deviceId, bobNew.deviceId, 'the new identity key enrols a device')
  const bob3 = await s.login('bob', bobNew)
  t.equal((await bob3.api.getSession()).userId, bob.userId, 'and Bob logs in again')

  // delete Carol: gone from resolution, e-mail crypto-shredded; a non-admin cannot; the last admin cannot go
  await root.api.adminCommand(buildCommand('AdminDeleteUser', { userId: carolKeys.userId }, root.keys, now(), crypto))
  const carolRow = (await root.api.adminUsers()).users.find((u) => u.userId === carolKeys.userId)!
  t.same([carolRow.deleted, carolRow.email], [true, null], 'Carol is deleted and her e-mail can no longer be decrypted')
  await rejects(t, root.api.adminCommand(buildCommand('AdminDeleteUser', { userId: root.userId }, root.keys, now(), crypto)), 409, 'ZIXT_ERR_LAST_ADMIN', 'the last admin cannot delete himself')
  await rejects(t, root.api.adminCommand(buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, root.keys, now(), crypto)), 403, 'ZIXT_ERR_WRONG_SIGNER', 'the admin route takes admin commands only')
  await root.api.adminSetPassword(alice.userId, 'a brand new password')
  await rejects(t, s.login('alice', alice.keys), 401, 'ZIXT_ERR_LOGIN_FAILED', 'after an admin password reset the old password fails')
  const aliceApi = new ApiClient({ baseUrl: s.url, cookieJar: true })
  await aliceApi.login({ username: 'alice', password: 'a brand new password', keys: alice.keys, crypto })
  t.pass('and the new one works')
})

t.test('TOTP enrolment and login, one-time backup codes', async (t) => {
  const tina = await s.register('tina')
  const begun = await tina.api.totpBegin()
  t.match(begun.otpauthUrl, /^otpauth:\/\/totp\/Zixt:tina\?secret=[A-Z2-7]+&/, 'an otpauth URL for the authenticator app')
  const secret = base32Decode(begun.secret)
  t.equal(secret.length, 20, 'a 160-bit secret')
  await rejects(t, tina.api.totpConfirm(totp(secret, now() + 300_000), buildCommand('EnrolTotp', {}, tina.keys, now(), crypto)), 400, 'ZIXT_ERR_TOTP_INVALID', 'a wrong code does not enrol')
  t.equal((await tina.api.getSession()).totpEnabled, false, 'not enrolled yet')
  await tina.api.totpConfirm(totp(secret, now()), buildCommand('EnrolTotp', {}, tina.keys, now(), crypto))
  t.equal((await tina.api.getSession()).totpEnabled, true, 'enrolled with the current code')
  t.notOk(ledgerHas(secret) || ledgerHas(new TextEncoder().encode(begun.secret)), 'the seed is not in the ledger (it stays in the web store)')
  await rejects(t, tina.api.totpBegin(), 409, 'ZIXT_ERR_TOTP_ENABLED', 'enrolling twice is refused')

  const failIp = async () => s.sys.redis.del(...(await s.sys.redis.keys(`${s.prefix}lf:ip:*`)), `${s.prefix}lf:u:tina`) // as if from another address
  await rejects(t, s.login('tina', tina.keys), 401, 'ZIXT_ERR_TOTP_REQUIRED', 'the password and device alone are not enough')
  await rejects(t, s.login('tina', tina.keys, { totp: totp(secret, now() - 600_000) }), 400, 'ZIXT_ERR_TOTP_INVALID', 'a stale code fails')
  await failIp()
  const next = totp(secret, now() + 30_000) // the enrolment used this step; the next one is still within ±1
  const in2 = await s.login('tina', tina.keys, { totp: next })
  t.equal((await in2.api.getSession()).userId, tina.userId, 'login with password, device signature and a TOTP code')
  await rejects(t, s.login('tina', tina.keys, { totp: next }), 400, 'ZIXT_ERR_TOTP_INVALID', 'the same code does not work twice')
  await failIp()

  const codes = await tina.api.backupCodesBegin()
  t.equal(codes.codes.length, 10, 'ten backup codes')
  await rejects(t, tina.api.backupCodesComplete(buildCommand('SetBackupCodes', { count: 10, commitment: toBase64url(crypto.randomBytes(32)) }, tina.keys, now(), crypto)),
    400, 'ZIXT_ERR_COMMITMENT_MISMATCH', 'the signed command must commit to the codes shown')
  await tina.api.backupCodesComplete(buildCommand('SetBackupCodes', { count: 10, commitment: codes.commitment }, tina.keys, now(), crypto))
  const b1 = await s.login('tina', tina.keys, { backupCode: codes.codes[0]! })
  t.equal((await b1.api.getSession()).userId, tina.userId, 'a backup code replaces the TOTP code')
  await rejects(t, s.login('tina', tina.keys, { backupCode: codes.codes[0]! }), 400, 'ZIXT_ERR_TOTP_INVALID', 'a used backup code fails the second time')
  await failIp()
  await s.login('tina', tina.keys, { backupCode: codes.codes[1]! })
  t.pass('another code still works')
  await rejects(t, s.login('tina', tina.keys, { backupCode: 'AAAAAAAAAA' }), 400, 'ZIXT_ERR_TOTP_INVALID', 'an unknown code fails')
  await failIp()
})

/** A PUT whose headers are sent and whose body is held back: the answer must come first. */
function putHeld(path: string, headers: Record<string, string | number>, first: Uint8Array): Promise<{ status: number; body: string }> {
  const u = new URL(path, s.url)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: u.pathname, headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += String(d) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); req.destroy() })
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('no early answer')))
    req.write(first)
  })
}

t.test('blobs: limits, hash, no partial file, download by members only', async (t) => {
  const alice = await s.register('ada')
  const bob = await s.register('ben')
  const eve = await s.register('eva')
  const dir = join(s.dataDir, 'blobs')
  const files0 = blobFiles(dir)
  const auth = { cookie: alice.api.cookieHeader(), 'x-csrf-token': alice.api.csrfToken! }
  const someId = Buffer.from(crypto.sha256(crypto.randomBytes(8))).toString('hex')

  const declared = await putHeld(`/api/blobs/${someId}`, { ...auth, 'content-type': 'application/octet-stream', 'content-length': 20 * 1024 * 1024 }, crypto.randomBytes(1024))
  t.same([declared.status, JSON.parse(declared.body).error.code], [413, 'ZIXT_ERR_PAYLOAD_TOO_LARGE'], 'a declared 20 MiB upload is refused before its body is sent')
  const chunked = await putHeld(`/api/blobs/${someId}`, { ...auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, crypto.randomBytes(64 * 1024))
  t.same([chunked.status, JSON.parse(chunked.body).error.code], [411, 'ZIXT_ERR_LENGTH_REQUIRED'], 'a chunked upload without Content-Length is refused before it is read')
  const big = Buffer.alloc(s.sys.apps[0]!.hub.ctx.config.blobBytesMax + 1, 7)
  const counted = await rawRequest(s.url, 'PUT', `/api/blobs/${Buffer.from(crypto.sha256(big)).toString('hex')}`, { headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': big.length }, body: big })
  t.same([counted.status, errorCode(counted)], [413, 'ZIXT_ERR_PAYLOAD_TOO_LARGE'], 'one byte over 15 MiB + 64 KiB is too large')
  const small = crypto.randomBytes(5000)
  const mismatch = await rawRequest(s.url, 'PUT', `/api/blobs/${someId}`, { headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': small.length }, body: small })
  t.same([mismatch.status, errorCode(mismatch)], [400, 'ZIXT_ERR_BLOB_MISMATCH'], 'a body whose SHA-256 is not the blobId is refused')
  const json = await rawRequest(s.url, 'PUT', `/api/blobs/${someId}`, { headers: { ...auth, 'content-type': 'application/json', 'content-length': 7 }, body: '{"a":1}' })
  t.same([json.status, errorCode(json)], [415, 'ZIXT_ERR_UNSUPPORTED_MEDIA_TYPE'], 'only application/octet-stream')
  // a client that goes away half-way
  await new Promise<void>((resolve) => {
    const u = new URL(`/api/blobs/${someId}`, s.url)
    const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: u.pathname, agent: false, headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': 1024 * 1024 } })
    req.on('error', () => resolve())
    req.write(crypto.randomBytes(200 * 1024), () => setTimeout(() => { req.destroy(); resolve() }, 300))
  })
  await new Promise((r) => setTimeout(r, 500))
  t.same(blobFiles(dir), files0, 'no file, final or temporary, is left after any of these')

  const data = crypto.randomBytes(30_000)
  const blobId = Buffer.from(crypto.sha256(data)).toString('hex')
  t.same(await alice.api.putBlob(blobId, data), { blobId, bytes: data.length }, 'a good upload is stored')
  t.same(await alice.api.getBlob(blobId), data, 'the uploader reads it back')
  await rejects(t, bob.api.getBlob(blobId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'nobody else before it is posted')
  const threadId = randomId(crypto)
  await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, now(), crypto))
  await alice.api.submit(buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [{ blobId, ciphertextBytes: data.length, type: 'PDF' }] }, alice.keys, now(), crypto))
  t.same(await bob.api.getBlob(blobId), data, 'a member of the thread downloads it')
  await rejects(t, eve.api.getBlob(blobId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'a non-member does not (and cannot tell it exists)')
  await rejects(t, eve.api.getBlob(someId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'same answer as for a blob that does not exist')
  await alice.api.submit(buildCommand('RemoveMember', { threadId, userId: bob.userId }, alice.keys, now(), crypto))
  await rejects(t, bob.api.getBlob(blobId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'a removed member no longer does')
})

t.test('ws Origin; revoking a device ends its sessions; logout', async (t) => {
  const rita = await s.register('rita')
  const wsUrl = `${s.url.replace('http', 'ws')}/api/ws`
  const refused = (headers: Record<string, string>) => new Promise<number>((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: { cookie: rita.api.cookieHeader(), ...headers } })
    ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0))
    ws.on('open', () => { ws.close(); resolve(101) })
    ws.on('error', () => resolve(-1))
  })
  t.equal(await refused({ origin: 'https://evil.example' }), 403, 'a ws upgrade from a foreign Origin is refused, even with the session cookie')
  t.equal(await refused({}), 403, 'and one without an Origin')

  // a second device for Rita, certified by her identity key, logged in and live
  const second = newUserKeys(crypto, 'rita')
  const device = signDeviceCertificate({ userId: rita.userId, deviceId: second.deviceId, devicePublicKey: second.device.publicKey, issuedAt: now(), identitySecretKey: rita.keys.identity.secretKey }, crypto)
  await rita.api.submit(buildCommand('AddDevice', { device }, rita.keys, now(), crypto))
  const phoneKeys = { ...rita.keys, deviceId: second.deviceId, device: second.device }
  const phone = await s.login('rita', phoneKeys)
  const got: ServerMessage[] = []
  const live = await s.live(phone, got)
  await rita.api.submit(buildCommand('RevokeDevice', { deviceId: second.deviceId }, rita.keys, now(), crypto, { signer: 'identity' }))
  await rejects(t, phone.api.getSession(), 401, 'ZIXT_ERR_UNAUTHENTICATED', "the revoked device's session answers 401")
  await rejects(t, phone.api.threads(), 401, 'ZIXT_ERR_UNAUTHENTICATED', 'on every route')
  await waitFor('the revoked device told over ws', () => got.find((m) => m.type === 'sessionEnded' && m.reason === 'deviceRevoked'), 8000)
  await waitFor('its socket closed', () => live.state() === 'closed', 8000)
  t.pass('its live socket got sessionEnded(deviceRevoked) and was closed')
  await rejects(t, s.login('rita', phoneKeys), 401, 'ZIXT_ERR_LOGIN_FAILED', 'the revoked device cannot log in again')
  t.equal((await rita.api.getSession()).deviceId, rita.deviceId, "Rita's other device keeps its session")

  // logout: the cookie is cleared, the old cookie is dead, the live socket ends
  const cookie = rita.api.cookieHeader()
  const got2: ServerMessage[] = []
  const live2 = await s.live(rita, got2)
  await rita.api.logout()
  t.notMatch(rita.api.cookieHeader(), /zixt_session=/, 'logout clears the session cookie')
  const replay = await rawRequest(s.url, 'GET', '/api/session', { headers: { cookie } })
  t.same([replay.status, errorCode(replay)], [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'the old session cookie no longer works')
  await waitFor('the live socket told of the logout', () => got2.find((m) => m.type === 'sessionEnded' && m.reason === 'logout'), 8000)
  t.pass('its live socket got sessionEnded(logout)')
  live2.close()
})
