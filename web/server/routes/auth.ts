// Registration, e-mail verification, login (password + device signature over a single-use
// challenge + optional TOTP/backup code), session, logout, TOTP and backup codes.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { fromBase64url, toBase64url, toHex, utf8Encode } from '../../../domain/encoding.ts'
import { ErrorCode, ZixtError } from '../../../domain/errors.ts'
import { LOGIN_CONTEXT, loginChallengeBytes } from '../../../web/client/core/api/commands.ts'
import { type Auth, type Ctx, defaultConfig } from '../context.ts'
import { webError, WebError } from '../httpErrors.ts'
import {
  backupCodeHash, backupCommitment, base32Encode, checkPassword, decryptEmail, encryptEmail, makeVerifier, matchTotp,
  newBackupCodes, passwordLengthMax, passwordLengthMin,
} from '../secrets.ts'
import { CSRF_COOKIE, SESSION_COOKIE } from '../sessions.ts'
import { body, query, str } from './schemas.ts'

const emailSchema = { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' }
const usernameLoose = str(1, 64)
const b64 = (max: number) => ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[A-Za-z0-9_-]+$' })
const commandSchema = { type: 'object' }

export function sessionInfo(a: Auth) {
  return {
    userId: a.user.userId, deviceId: a.device.deviceId, username: a.user.username, admin: a.user.admin, emailVerified: a.user.emailVerified,
    totpEnabled: a.user.totp, csrfToken: a.session.csrf, keyRotationDue: a.device.rotationDue, keyExpiresAt: a.device.issuedAt + 90 * 24 * 3600_000,
  }
}

function checkPasswordShape(password: string): void {
  const n = [...password].length
  if (n < passwordLengthMin || n > passwordLengthMax) throw webError(WebError.passwordWeak, `password: ${passwordLengthMin} to ${passwordLengthMax} characters`, { field: 'password' })
}

/**
 * What may be logged of a failed send: nodemailer's code and the SMTP reply code, never the
 * message, which quotes the server's reply and with it the recipient's address.
 */
export function mailFault(e: unknown): string {
  const { code, responseCode } = (e ?? {}) as { code?: unknown; responseCode?: unknown }
  const c = typeof code === 'string' && /^[A-Z_]{1,32}$/.test(code) ? code : 'error'
  return typeof responseCode === 'number' ? `${c} ${responseCode}` : c
}

const resendGapKey = (ctx: Ctx, userId: string): string => `${ctx.prefix}resend-gap:${userId}`

/**
 * One verification mail's worth of the user's budget (resend and ChangeEmail share it): at
 * least 60 s after the last one, and rates.resend. Refused with 429 and `gapMessage`.
 */
export async function takeVerificationMailSlot(ctx: Ctx, userId: string, gapMessage: string): Promise<void> {
  const gap = await ctx.d.redis.set(resendGapKey(ctx, userId), '1', 'EX', 60, 'NX')
  if (gap !== 'OK') throw webError(WebError.rateLimited, gapMessage, { retryAfterS: 60 })
  await ctx.rate(`resend:${userId}`, ctx.config.rates.resend)
}

type Pending = { email: string; dataKey: string; encryptedEmail: string }

/** register/begin and admin create-begin: a fresh data key and the e-mail ciphertext, pending 30 min. */
export async function beginRegistration(ctx: Ctx, email: string) {
  const dataKey = ctx.crypto.randomBytes(32)
  const encryptedEmail = encryptEmail(dataKey, email, ctx.crypto)
  const registrationId = toBase64url(ctx.crypto.randomBytes(16))
  const pending: Pending = { email, dataKey: toBase64url(dataKey), encryptedEmail }
  await ctx.d.redis.set(`${ctx.prefix}reg:${registrationId}`, JSON.stringify(pending), 'EX', 1800)
  return { registrationId, encryptedEmail }
}

/** Submits RegisterUser / AdminCreateUser carrying the pending ciphertext; stores verifier + data key only once committed. */
export async function completeRegistration(
  ctx: Ctx, input: { registrationId: string; password: string; command: unknown }, authorize: Parameters<Ctx['d']['ingest']['submit']>[1],
) {
  checkPasswordShape(input.password)
  const raw = await ctx.d.redis.get(`${ctx.prefix}reg:${input.registrationId}`)
  if (raw === null) throw webError(WebError.registrationExpired, 'registrationId: unknown or expired; start again', { field: 'registrationId' })
  const pending = JSON.parse(raw) as Pending
  const payload = (input.command as { command?: { payload?: { encryptedEmail?: unknown; userId?: unknown } } })?.command?.payload
  if (payload?.encryptedEmail !== pending.encryptedEmail) {
    throw webError(WebError.emailMismatch, 'command.payload.encryptedEmail: not the ciphertext this registration returned', { field: 'command.payload.encryptedEmail' })
  }
  const verifier = await makeVerifier(input.password, ctx.config.passwordCost, ctx.crypto)
  const result = await ctx.committed(await ctx.d.ingest.submit(input.command, authorize))
  const created = result.events.find((e) => e.type === 'UserRegistered' || e.type === 'UserCreated')!
  const userId = created.payload['userId'] as string
  await ctx.store.setDataKey(userId, fromBase64url(pending.dataKey), ctx.now())
  await ctx.store.setVerifier(userId, verifier, ctx.now())
  await ctx.d.redis.del(`${ctx.prefix}reg:${input.registrationId}`)
  const device = result.events.find((e) => e.type === 'DeviceAdded')
  try {
    await ctx.sendVerification(userId, pending.email, pending.encryptedEmail)
  } catch (e) {
    ctx.log(`mail: verification for ${userId} not sent: ${mailFault(e)}`)
  }
  return { userId, deviceId: (device?.payload['deviceId'] as string | undefined) ?? null, height: result.height }
}

async function verifyToken(ctx: Ctx, token: string): Promise<{ userId: string }> {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw webError(WebError.verifyTokenInvalid, 'token: unknown, used or expired')
  const key = `${ctx.prefix}verify:${toHex(ctx.crypto.sha256(utf8Encode(token)))}`
  const raw = await ctx.d.redis.getdel(key)
  if (raw === null) throw webError(WebError.verifyTokenInvalid, 'token: unknown, used or expired')
  const v = JSON.parse(raw) as { userId: string; encryptedEmailHash: string }
  try {
    await ctx.submitService('VerifyEmail', { userId: v.userId, encryptedEmailHash: v.encryptedEmailHash })
  } catch (e) {
    if (e instanceof ZixtError && e.code === 'ZIXT_ERR_NO_CHANGE') return { userId: v.userId } // already verified
    throw e
  }
  return { userId: v.userId }
}

// --- brute-force backoff ----------------------------------------------------------------
// An attempt against an account is counted before the password is checked, in one Lua script
// that checks both counters: a check and a later write with a ~0.4 s scrypt between them let N
// concurrent guesses through and raised the count by about one. The IP's counter is checked
// there too but counted only on a failure: counted up front, a few people behind one address
// logging in at once (an office, a test run) were refused. The stored value stays `{ n, last }`.
// KEYS: every counter to check; ARGV[5]: how many of the first KEYS to count; ARGV[6]: '0' to
// count without checking (a failure already made).
const TAKE_ATTEMPT = `
local now, threshold, maxS = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local counted, check = tonumber(ARGV[5]), ARGV[6] == '1'
local wait, ns = 0, {}
for i, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  local n, last = 0, 0
  if raw then local f = cjson.decode(raw); n, last = f.n, f.last end
  ns[i] = n
  if check and n >= threshold then
    local left = last + math.min(maxS, 2 ^ (n - threshold)) * 1000 - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return math.ceil(wait) end
for i = 1, counted do
  redis.call('SET', KEYS[i], '{"n":' .. (ns[i] + 1) .. ',"last":' .. ARGV[1] .. '}', 'EX', ARGV[4])
end
return 0`

// Gives back an attempt that turned out not to be a failure (right password); `last` stays.
const REFUND_ATTEMPT = `
for _, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if raw then
    local f = cjson.decode(raw)
    if f.n > 0 then
      redis.call('SET', key, '{"n":' .. (f.n - 1) .. ',"last":' .. string.format('%d', f.last) .. '}', 'KEEPTTL')
    end
  end
end
return 0`

/** Login counters: the account's (counted per attempt) and the IP's (counted per failure). */
type FailKeys = { readonly account: string; readonly ip: string }

function failKeysOf(ctx: Ctx, username: string, ip: string): FailKeys {
  return { account: `${ctx.prefix}lf:u:${username.toLowerCase()}`, ip: `${ctx.prefix}lf:ip:${ip}` }
}

function runAttempts(ctx: Ctx, keys: readonly string[], counted: number, check: boolean): Promise<unknown> {
  const { threshold, maxS, windowS } = ctx.config.loginBackoff
  return ctx.d.redis.eval(TAKE_ATTEMPT, keys.length, ...keys, String(Math.floor(ctx.now())), String(threshold), String(maxS), String(windowS), String(counted), check ? '1' : '0')
}

/** Counts one attempt against the account, or refuses it (LOGIN_THROTTLED, nothing counted) while either counter is backing off. */
async function takeAttempt(ctx: Ctx, k: FailKeys): Promise<void> {
  const waitMs = Number(await runAttempts(ctx, [k.account, k.ip], 1, true))
  if (waitMs > 0) {
    const s = Math.ceil(waitMs / 1000)
    throw webError(WebError.loginThrottled, `too many failed logins; retry in ${s} s`, { retryAfterS: s })
  }
}

/** A failure: the IP's counter too. */
async function countFailure(ctx: Ctx, k: FailKeys): Promise<void> {
  await runAttempts(ctx, [k.ip], 1, false)
}

async function refundAttempt(ctx: Ctx, k: FailKeys): Promise<void> {
  await ctx.d.redis.eval(REFUND_ATTEMPT, 1, k.account)
}

function loginFailed(): ZixtError {
  return webError(WebError.loginFailed, 'wrong username, password, device or signature')
}

type LoginBody = { username: string; password: string; deviceId: string; challenge: string; signature: string; totp?: string; backupCode?: string }

async function login(ctx: Ctx, req: FastifyRequest, b: LoginBody) {
  const failKeys = failKeysOf(ctx, b.username, req.ip)
  await takeAttempt(ctx, failKeys)
  let failed = false // a counted failure; anything else thrown (TOTP_REQUIRED, a fault) gives the attempt back
  try {
    return await loginChecked(ctx, b, failKeys, (e = loginFailed()) => {
      failed = true
      throw e
    })
  } catch (e) {
    await (failed ? countFailure(ctx, failKeys) : refundAttempt(ctx, failKeys))
    throw e
  }
}

async function loginChecked(ctx: Ctx, b: LoginBody, failKeys: FailKeys, fail: (e?: ZixtError) => never) {
  const challengeOwner = await ctx.d.redis.getdel(`${ctx.prefix}chal:${b.challenge}`)
  if (challengeOwner !== b.username) fail(webError(WebError.challengeInvalid, 'challenge: unknown, used or expired; ask for a new one'))
  const user = await ctx.d.read.userByUsername(b.username)
  const verifier = user === null ? null : await ctx.store.verifier(user.userId)
  const passwordOk = await checkPassword(b.password, verifier, ctx.config.passwordCost, ctx.crypto)
  if (user === null || !passwordOk || user.disabled || user.deleted) return fail()
  const device = await ctx.d.read.device(b.deviceId)
  if (device === null || device.userId !== user.userId || device.revoked || device.expired) return fail()
  let sigOk = false
  try {
    const msg = loginChallengeBytes({ challenge: b.challenge, username: b.username, userId: user.userId, deviceId: device.deviceId })
    sigOk = ctx.crypto.mlDsa65.verify(fromBase64url(device.publicKey), msg, fromBase64url(b.signature, 'signature'), utf8Encode(LOGIN_CONTEXT))
  } catch {
    sigOk = false
  }
  if (!sigOk) return fail()
  if (user.totp) await secondFactor(ctx, user.userId, b, fail)
  const { token, session } = await ctx.sessions.create(user.userId, device.deviceId, ctx.now())
  await ctx.d.redis.del(failKeys.account) // success clears the account's counter
  return { token, auth: { session, user, device } satisfies Auth }
}

async function secondFactor(ctx: Ctx, userId: string, b: LoginBody, fail: (e?: ZixtError) => never): Promise<void> {
  if (b.totp === undefined && b.backupCode === undefined) throw webError(WebError.totpRequired, 'totp: this account needs a one-time code (or a backup code)')
  if (b.totp !== undefined) {
    const t = await ctx.store.totp(userId)
    const key = await ctx.store.dataKey(userId)
    if (t !== null && key !== null) {
      const secret = ctx.crypto.aes256gcm.decrypt(key, t.sealed.subarray(0, 12), t.sealed.subarray(12), utf8Encode('zixt/totp/v1'))
      const step = matchTotp(secret, b.totp, ctx.now(), t.lastStep, ctx.crypto)
      if (step !== null && (await ctx.store.useTotpStep(userId, step))) return
    }
    fail(webError(WebError.totpInvalid, 'totp: wrong or already used code'))
  }
  if (!(await ctx.store.useBackupCode(userId, backupCodeHash(userId, b.backupCode!, ctx.crypto), ctx.now()))) {
    fail(webError(WebError.totpInvalid, 'backupCode: wrong or already used code'))
  }
}

export function authRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.get('/api/health', async () => ({ ok: true, position: await ctx.d.read.position() }))

  app.get('/api/csrf', async (_req, reply) => {
    const token = toBase64url(ctx.crypto.randomBytes(32))
    reply.setCookie(CSRF_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: ctx.config.tls, path: '/' })
    return { csrfToken: token }
  })

  app.post('/api/register/begin', { schema: body({ email: emailSchema }) }, async (req) => {
    await ctx.rate(`reg:${req.ip}`, ctx.config.rates.register)
    return beginRegistration(ctx, (req.body as { email: string }).email)
  })

  app.post('/api/register/complete', { schema: body({ registrationId: b64(64), password: str(1, 4096), command: commandSchema }) }, async (req, reply) => {
    await ctx.rate(`reg:${req.ip}`, ctx.config.rates.register)
    const b = req.body as { registrationId: string; password: string; command: unknown }
    const out = await completeRegistration(ctx, b, {
      authorize: (s) => {
        if (s.command.type !== 'RegisterUser') throw webError('ZIXT_ERR_WRONG_SIGNER', `command.type: expected RegisterUser, got ${s.command.type}`, { field: 'command.type' })
      },
    })
    reply.status(201)
    return out
  })

  app.get('/api/email/verify', { schema: query({ token: { type: 'string' } }) }, async (req, reply) => {
    const token = (req.query as { token?: unknown }).token
    try {
      await verifyToken(ctx, typeof token === 'string' ? token : '')
      return reply.redirect('/?verified=1', 303)
    } catch (e) {
      const code = e instanceof ZixtError ? e.code : 'ZIXT_ERR_INTERNAL'
      return reply.redirect(`/?verified=0&error=${encodeURIComponent(code)}`, 303)
    }
  })

  app.post('/api/email/verify', { schema: body({ token: str(1, 128) }) }, async (req) => {
    const r = await verifyToken(ctx, (req.body as { token: string }).token)
    return { userId: r.userId, verified: true }
  })

  app.post('/api/email/resend', { schema: body({}) }, async (req, reply) => {
    const a = await ctx.auth(req)
    if (a.user.emailVerified) throw webError(WebError.alreadyVerified, 'e-mail already verified')
    await takeVerificationMailSlot(ctx, a.user.userId, 'a mail was sent less than 60 s ago')
    const key = await ctx.store.dataKey(a.user.userId)
    if (key === null || a.user.encryptedEmail === null) throw webError('ZIXT_ERR_NOT_FOUND', 'no e-mail on file')
    try {
      await ctx.sendVerification(a.user.userId, decryptEmail(key, a.user.encryptedEmail, ctx.crypto), a.user.encryptedEmail)
    } catch (e) {
      ctx.log(`mail: verification for ${a.user.userId} not sent: ${mailFault(e)}`)
      await ctx.d.redis.del(resendGapKey(ctx, a.user.userId)) // nothing was sent: a retry need not wait 60 s
      throw webError(ErrorCode.unavailable, 'the verification mail could not be sent; try again later')
    }
    reply.status(202)
    return { sent: true }
  })

  app.post('/api/login/challenge', { schema: body({ username: usernameLoose }) }, async (req) => {
    await ctx.rate(`login:${req.ip}`, ctx.config.rates.login)
    const challenge = toBase64url(ctx.crypto.randomBytes(32))
    await ctx.d.redis.set(`${ctx.prefix}chal:${challenge}`, (req.body as { username: string }).username, 'EX', 60)
    return { challenge, expiresAt: ctx.now() + 60_000 }
  })

  app.post('/api/login', {
    schema: body(
      { username: usernameLoose, password: str(1, 4096), deviceId: b64(43), challenge: b64(43), signature: b64(4500) },
      { totp: str(1, 16), backupCode: str(1, 32) },
    ),
  }, async (req, reply) => {
    await ctx.rate(`login:${req.ip}`, ctx.config.rates.login)
    const { token, auth } = await login(ctx, req, req.body as LoginBody)
    ctx.setSessionCookie(reply, token)
    return sessionInfo(auth)
  })

  // A device for an account that has none it can log in with: made by an admin
  // (AdminCreateUser) or whose identity key an admin replaced (every device revoked). The
  // identity signature on AddDevice proves the key (checked by ingest against the read
  // model's current identity key); the password is checked too, with login's backoff, so a
  // leaked key file alone does not write to the ledger. No session is created: log in next.
  app.post('/api/devices/enrol', { schema: body({ username: usernameLoose, password: str(1, 4096), command: commandSchema }) }, async (req, reply) => {
    await ctx.rate(`enrol:${req.ip}`, ctx.config.rates.enrol ?? defaultConfig.rates.enrol!)
    const b = req.body as { username: string; password: string; command: unknown }
    const failKeys = failKeysOf(ctx, b.username, req.ip)
    await takeAttempt(ctx, failKeys) // before scrypt: concurrent guesses are counted one by one
    let passwordOk = false
    let user: Awaited<ReturnType<typeof ctx.d.read.userByUsername>> = null
    try {
      user = await ctx.d.read.userByUsername(b.username)
      const verifier = user === null ? null : await ctx.store.verifier(user.userId)
      passwordOk = await checkPassword(b.password, verifier, ctx.config.passwordCost, ctx.crypto)
    } catch (e) {
      await refundAttempt(ctx, failKeys)
      throw e
    }
    if (user === null || !passwordOk || user.disabled || user.deleted) {
      await countFailure(ctx, failKeys)
      throw loginFailed()
    }
    // the right password is no failure, whatever becomes of the command (as before: not counted)
    await refundAttempt(ctx, failKeys)
    const result = await ctx.committed(await ctx.d.ingest.submit(b.command, {
      authorize: (s) => {
        const c = s.command
        if (c.type !== 'AddDevice') throw webError('ZIXT_ERR_WRONG_SIGNER', `command.type: expected AddDevice, got ${c.type}`, { field: 'command.type' })
        if (c.author !== user.userId) throw webError('ZIXT_ERR_WRONG_SIGNER', `command.author: not the account '${b.username}'`, { field: 'command.author' })
        if (c.signer !== 'identity') throw webError('ZIXT_ERR_WRONG_SIGNER', 'command.signer: AddDevice is signed with the identity key', { field: 'command.signer' })
      },
    }))
    await ctx.d.redis.del(failKeys.account)
    const added = result.events.find((e) => e.type === 'DeviceAdded')!
    reply.status(201)
    return { userId: user.userId, deviceId: added.payload['deviceId'] as string, height: result.height }
  })

  app.get('/api/session', async (req) => sessionInfo(await ctx.auth(req)))

  app.post('/api/logout', async (req, reply) => {
    const a = await ctx.optionalAuth(req)
    if (a !== null) {
      await ctx.sessions.delete(a.session.id)
      await ctx.d.redis.publish(`${ctx.prefix}web:ephemeral`, JSON.stringify({ kind: 'sessionEnded', sessionId: a.session.id, reason: 'logout' }))
    }
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return reply.status(204).send()
  })

  app.post('/api/ws/ticket', async (req) => {
    const a = await ctx.auth(req)
    const ticket = toBase64url(ctx.crypto.randomBytes(32))
    await ctx.d.redis.set(`${ctx.prefix}wst:${ticket}`, a.session.id, 'EX', 30)
    return { ticket, expiresAt: ctx.now() + 30_000 }
  })

  // --- TOTP and backup codes ----------------------------------------------------------
  app.post('/api/totp/begin', async (req) => {
    const a = await ctx.auth(req)
    if (a.user.totp) throw webError(WebError.totpEnabled, 'TOTP is already enabled')
    const secret = ctx.crypto.randomBytes(20)
    await ctx.d.redis.set(`${ctx.prefix}totp-pending:${a.user.userId}`, toBase64url(secret), 'EX', 600)
    const b32 = base32Encode(secret)
    return { secret: b32, otpauthUrl: `otpauth://totp/Zixt:${encodeURIComponent(a.user.username)}?secret=${b32}&issuer=Zixt&algorithm=SHA1&digits=6&period=30` }
  })

  app.post('/api/totp/confirm', { schema: body({ code: str(1, 16), command: commandSchema }) }, async (req) => {
    const a = await ctx.auth(req)
    const b = req.body as { code: string; command: unknown }
    const raw = await ctx.d.redis.get(`${ctx.prefix}totp-pending:${a.user.userId}`)
    if (raw === null) throw webError(WebError.noPendingTotp, 'no TOTP enrolment in progress: call /api/totp/begin')
    const secret = fromBase64url(raw)
    const step = matchTotp(secret, b.code, ctx.now(), 0, ctx.crypto)
    if (step === null) throw webError(WebError.totpInvalid, 'code: does not match the new secret', { field: 'code' })
    const key = await ctx.store.dataKey(a.user.userId)
    if (key === null) throw webError('ZIXT_ERR_NOT_FOUND', 'no data key for this account')
    const nonce = ctx.crypto.randomBytes(12)
    const sealed = ctx.crypto.aes256gcm.encrypt(key, nonce, secret, utf8Encode('zixt/totp/v1'))
    await ctx.committed(await ctx.d.ingest.submit(b.command, { authorize: (s) => ownCommand(a, s, 'EnrolTotp') }))
    const all = new Uint8Array(12 + sealed.length)
    all.set(nonce)
    all.set(sealed, 12)
    await ctx.store.setTotp(a.user.userId, all)
    await ctx.store.useTotpStep(a.user.userId, step)
    await ctx.d.redis.del(`${ctx.prefix}totp-pending:${a.user.userId}`)
    return { enabled: true }
  })

  app.post('/api/totp/remove', { schema: body({ code: str(1, 16), command: commandSchema }) }, async (req) => {
    const a = await ctx.auth(req)
    const b = req.body as { code: string; command: unknown }
    const t = await ctx.store.totp(a.user.userId)
    const key = await ctx.store.dataKey(a.user.userId)
    if (t === null || key === null) throw webError(WebError.noPendingTotp, 'TOTP is not enabled')
    const secret = ctx.crypto.aes256gcm.decrypt(key, t.sealed.subarray(0, 12), t.sealed.subarray(12), utf8Encode('zixt/totp/v1'))
    const step = matchTotp(secret, b.code, ctx.now(), t.lastStep, ctx.crypto)
    if (step === null || !(await ctx.store.useTotpStep(a.user.userId, step))) throw webError(WebError.totpInvalid, 'code: wrong or already used', { field: 'code' })
    await ctx.committed(await ctx.d.ingest.submit(b.command, { authorize: (s) => ownCommand(a, s, 'RemoveTotp') }))
    await ctx.store.deleteTotp(a.user.userId)
    return { enabled: false }
  })

  app.post('/api/backup-codes/begin', async (req) => {
    const a = await ctx.auth(req)
    const codes = newBackupCodes(10, ctx.crypto)
    const hashes = codes.map((c) => backupCodeHash(a.user.userId, c, ctx.crypto))
    const commitment = backupCommitment(hashes, ctx.crypto)
    await ctx.d.redis.set(`${ctx.prefix}codes-pending:${a.user.userId}`, JSON.stringify({ hashes: hashes.map(toBase64url), commitment }), 'EX', 600)
    return { codes, count: codes.length, commitment }
  })

  app.post('/api/backup-codes/complete', { schema: body({ command: commandSchema }) }, async (req) => {
    const a = await ctx.auth(req)
    const raw = await ctx.d.redis.get(`${ctx.prefix}codes-pending:${a.user.userId}`)
    if (raw === null) throw webError(WebError.noPendingCodes, 'no backup codes pending: call /api/backup-codes/begin')
    const p = JSON.parse(raw) as { hashes: string[]; commitment: string }
    await ctx.committed(await ctx.d.ingest.submit((req.body as { command: unknown }).command, {
      authorize: (s) => {
        ownCommand(a, s, 'SetBackupCodes')
        const pl = s.command.payload as { count: number; commitment: string }
        if (pl.commitment !== p.commitment || pl.count !== p.hashes.length) throw webError(WebError.commitmentMismatch, 'command.payload: not the pending codes')
      },
    }))
    await ctx.store.setBackupCodes(a.user.userId, p.hashes.map((h) => fromBase64url(h)))
    await ctx.d.redis.del(`${ctx.prefix}codes-pending:${a.user.userId}`)
    return { count: p.hashes.length }
  })
}

/** The command is the session user's own, of the expected type, signed by the session's device (or the identity key). */
export function ownCommand(a: Auth, s: { command: { type: string; author: string; signer: string; keyId: string } }, type?: string): void {
  const c = s.command
  if (type !== undefined && c.type !== type) throw webError('ZIXT_ERR_WRONG_SIGNER', `command.type: expected ${type}, got ${c.type}`, { field: 'command.type' })
  if (c.author !== a.user.userId) throw webError('ZIXT_ERR_WRONG_SIGNER', 'command.author: not the logged-in user', { field: 'command.author' })
  if (c.signer === 'service') throw webError('ZIXT_ERR_WRONG_SIGNER', 'command.signer: service commands do not come from users', { field: 'command.signer' })
  if (c.signer === 'device' && c.keyId !== a.device.deviceId) throw webError('ZIXT_ERR_WRONG_SIGNER', "command.keyId: not this session's device", { field: 'command.keyId' })
}
