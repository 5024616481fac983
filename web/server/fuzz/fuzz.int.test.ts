// A seeded fuzz run against the whole stack (real cluster, MariaDB, Redis, web): a few
// hundred random and malformed requests over every route and the ws endpoint — wrong types,
// oversize and empty bodies, unknown fields, wrong Content-Types, missing CSRF, foreign
// Origins, bad and missing signatures, tampered signed commands, replayed command ids and
// login challenges, garbage ws frames. Every request is invalid, so: never a 500, every
// answer an error code of the catalog with its status, and afterwards the ledger (replica
// heights, projected position), every table, every Redis key of the prefix and the blob
// folder are exactly as before. ZIXT_FUZZ_SEED repeats a run.
import t from 'tap'
import WebSocket from 'ws'
import { toBase64url } from '../../../domain/encoding.ts'
import { buildCommand, randomId, signLoginChallenge } from '../../client/core/api/commands.ts'
import { httpStatus } from '../httpErrors.ts'
import { errorCode, rawRequest, seeded, type RawResponse } from './http.ts'
import { crypto, password, startWebStack, type TestUser, type WebStack } from './stack.ts'

t.setTimeout(240_000)
const seed = Number(process.env['ZIXT_FUZZ_SEED'] ?? Date.now() % 1_000_000)
const requests = 320
const runMsMax = 90_000

let s: WebStack
t.before(async () => {
  s = await startWebStack({ tag: 'fuzz' })
})
t.teardown(async () => s?.stop())

type Req = { method: string; path: string; headers?: Record<string, string | number>; body?: string | Uint8Array | Uint8Array[]; note: string }

/** Checks one answer to an invalid request; returns a problem or null. */
function judge(r: RawResponse, q: Req): string | null {
  const code = errorCode(r)
  if (r.status >= 500) return `${q.note}: ${r.status} ${r.text.slice(0, 200)}`
  if (r.status < 400) return `${q.note}: accepted (${r.status}) ${r.text.slice(0, 200)}`
  if (code === null) return `${q.note}: ${r.status} without an error code: ${r.text.slice(0, 200)}`
  if (httpStatus(code) === 500) return `${q.note}: ${code} is not in the catalog`
  if (httpStatus(code) !== r.status) return `${q.note}: ${code} came with ${r.status}, the catalog says ${httpStatus(code)}`
  return null
}

t.test('fuzz: invalid requests never 500 and leave no trace', async (t) => {
  t.comment(`seed ${seed} (ZIXT_FUZZ_SEED=${seed} repeats this run)`)
  const rnd = seeded(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const int = (n: number) => Math.floor(rnd() * n)

  // --- valid set-up, before the baseline -----------------------------------------------
  const alice = await s.register('alice')
  const bob = await s.register('bob')
  const threadId = randomId(crypto)
  await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, Date.now(), crypto))
  const posted = buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, alice.keys, Date.now(), crypto)
  await alice.api.submit(posted)
  const blob = crypto.randomBytes(1000)
  const blobId = Buffer.from(crypto.sha256(blob)).toString('hex')
  await alice.api.putBlob(blobId, blob)
  // a login challenge that was used once (by a failed login): replaying it must fail
  const { challenge: usedChallenge } = await bob.api.loginChallenge('bob')
  await bob.api.loginRaw({ username: 'bob', password: 'wrong password!', deviceId: bob.deviceId, challenge: usedChallenge, signature: 'AAAA' }).catch(() => {})
  await s.sys.redis.del(`${s.prefix}lf:u:bob`)
  const lonely = randomId(crypto) // a thread Bob is not in
  await alice.api.submit(buildCommand('CreateThread', { threadId: lonely, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [] }, alice.keys, Date.now(), crypto))
  const pre = new WebSocket(`${s.url.replace('http', 'ws')}/api/ws`) // warm the ws path
  pre.on('error', () => {})
  pre.close()

  // Rate-limit and login back-off counters exist to count rejected requests, and ingest keeps
  // the id of a command that reached consensus (and was rejected there) against replays: not compared.
  const ignoreRedis = (k: string) => k.startsWith('rl:') || k.startsWith('lf:') || k.startsWith('cmd:')
  const before = await s.snapshot({ ignoreRedis })

  // --- the generators --------------------------------------------------------------------
  const sess = (u: TestUser) => ({ cookie: u.api.cookieHeader(), 'x-csrf-token': u.api.csrfToken! })
  const json = (v: unknown) => JSON.stringify(v)
  const junk = (): unknown => pick([null, true, 0, -1, 1e309, 'x', '', [], {}, [1, 'a'], { a: { b: [] } }, 'ZZZ'.repeat(int(200)), Number.MAX_SAFE_INTEGER, toBase64url(crypto.randomBytes(int(64)))])
  const sessionPosts: [string, Record<string, unknown>][] = [
    ['/api/logout', {}], ['/api/ws/ticket', {}], ['/api/totp/begin', {}], ['/api/backup-codes/begin', {}], ['/api/email/resend', {}],
    ['/api/totp/confirm', { code: '123456', command: {} }], ['/api/totp/remove', { code: '123456', command: {} }], ['/api/backup-codes/complete', { command: {} }],
    ['/api/commands', { command: posted }], ['/api/email/encrypt', { email: 'x@example.org' }],
    ['/api/admin/users/begin', { email: 'x@example.org' }], ['/api/admin/users', { registrationId: 'AAAA', password, command: {} }],
    ['/api/admin/commands', { command: posted }], [`/api/admin/users/${alice.userId}/password`, { password }],
  ]
  const openPosts: [string, Record<string, unknown>][] = [
    ['/api/register/begin', { email: 'new@example.org' }], ['/api/register/complete', { registrationId: 'AAAA', password, command: {} }],
    ['/api/email/verify', { token: 'A'.repeat(43) }], ['/api/login/challenge', { username: 'bob' }],
    ['/api/login', { username: 'bob', password, deviceId: bob.deviceId, challenge: usedChallenge, signature: 'AAAA' }],
    ['/api/devices/enrol', { username: 'bob', password, command: {} }],
  ]
  const gets = [
    '/api/session', '/api/me/devices', '/api/threads', `/api/threads/${threadId}`, `/api/threads/${threadId}/members`, `/api/threads/${threadId}/messages`,
    `/api/threads/${threadId}/mls`, '/api/users/resolve?usernames=alice', `/api/users/${alice.userId}`, `/api/keypackages/${alice.deviceId}/x`,
    '/api/presence?userIds=x', `/api/blobs/${blobId}`, '/api/admin/users',
  ]

  /** A POST (or PUT) made invalid in one of many ways. */
  const badPost = (): Req => {
    const withSession = rnd() < 0.6
    const [path, valid] = withSession ? pick(sessionPosts) : pick(openPosts)
    const u = pick([alice, bob])
    const auth: Record<string, string> = withSession ? sess(u) : { cookie: `zixt_csrf=${'c'.repeat(43)}`, 'x-csrf-token': 'c'.repeat(43) }
    const ct = { 'content-type': 'application/json' }
    const kind = pick(['noCsrf', 'badCsrf', 'origin', 'contentType', 'badJson', 'oversize', 'unknownField', 'wrongType', 'missingField', 'notObject', 'empty'] as const)
    const note = `${kind} POST ${path}`
    switch (kind) {
      case 'noCsrf': return { method: 'POST', path, headers: { ...ct, cookie: auth['cookie']! }, body: json(valid), note }
      case 'badCsrf': return { method: 'POST', path, headers: { ...ct, ...auth, 'x-csrf-token': toBase64url(crypto.randomBytes(32)) }, body: json(valid), note }
      case 'origin': return { method: 'POST', path, headers: { ...ct, ...auth, origin: pick(['https://evil.example', 'null', s.url + '.evil.example']) }, body: json(valid), note }
      case 'contentType': return { method: 'POST', path, headers: { ...auth, 'content-type': pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'image/png']) }, body: json(valid), note }
      case 'badJson': return { method: 'POST', path, headers: { ...ct, ...auth }, body: pick(['{', '{"a":', '[1,', 'nul', '\u0000\u0001', '{"email":"a@b",}', json(valid).slice(0, -1)]), note }
      case 'oversize': return { method: 'POST', path, headers: { ...ct, ...auth }, body: json({ ...valid, pad: 'x'.repeat(1536 * 1024 + int(4096)) }), note }
      case 'unknownField': return { method: 'POST', path, headers: { ...ct, ...auth }, body: json({ ...valid, [pick(['extra', '__proto__x', 'admin', 'userId2'])]: junk() }), note }
      case 'wrongType': {
        const keys = Object.keys(valid)
        if (keys.length === 0) return { method: 'POST', path, headers: { ...ct, ...auth }, body: json({ x: junk() }), note }
        const k = pick(keys)
        let v = junk()
        if (typeof v === typeof valid[k] && !(k === 'command' && typeof v === 'object')) v = 12345
        return { method: 'POST', path, headers: { ...ct, ...auth }, body: json({ ...valid, [k]: v }), note: `${note}.${k}` }
      }
      case 'missingField': {
        const keys = Object.keys(valid)
        const drop = keys.length === 0 ? null : pick(keys)
        const { [drop ?? '']: _d, ...rest } = valid
        return { method: 'POST', path, headers: { ...ct, ...auth }, body: json(drop === null ? [] : rest), note }
      }
      case 'notObject': return { method: 'POST', path, headers: { ...ct, ...auth }, body: json(pick([[], [valid], 'x', 42, null, true])), note }
      case 'empty': return { method: 'POST', path, headers: { ...ct, ...auth }, body: '', note }
    }
  }

  /** A signed command that must not get through: tampered, badly signed, replayed, foreign. */
  const badCommand = (): Req => {
    const fresh = () => buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: toBase64url(crypto.randomBytes(8)), attachments: [] }, alice.keys, Date.now(), crypto)
    const kind = pick(['replay', 'tampered', 'badSig', 'noSig', 'otherDevice', 'otherAuthor', 'skew', 'registerHere', 'unknownType', 'serviceSigner', 'hugeCiphertext', 'adminAsUser'] as const)
    // (Commands the domain rejects — not a member, not the owner — are ordered first: the
    // replicas agree on the rejection in a block. They are in the rejection table below.)
    let body: unknown
    let u = alice
    switch (kind) {
      case 'replay': body = { command: posted }; break
      case 'tampered': { const c = fresh(); body = { command: { ...c, command: { ...c.command, payload: { ...c.command.payload, ciphertext: 'BBBB' } } } }; break }
      case 'badSig': { const c = fresh(); const sig = Buffer.from(c.signature, 'base64url'); sig[int(sig.length)]! ^= 1 << int(8); body = { command: { ...c, signature: toBase64url(sig) } }; break }
      case 'noSig': { const c = fresh(); body = { command: { command: c.command } }; break }
      case 'otherDevice': body = { command: fresh() }; u = bob; break // Alice's command on Bob's session
      case 'otherAuthor': body = { command: buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, { ...bob.keys, userId: alice.userId }, Date.now(), crypto) }; u = bob; break
      case 'skew': body = { command: buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, alice.keys, Date.now() - 3_600_000, crypto) }; break
      case 'registerHere': body = { command: buildCommand('SetBackupCodes', { count: 10, commitment: toBase64url(crypto.randomBytes(32)) }, alice.keys, Date.now(), crypto) }; break
      case 'unknownType': { const c = fresh(); body = { command: { ...c, command: { ...c.command, type: 'MintCoins' } } }; break }
      case 'serviceSigner': { const c = fresh(); body = { command: { ...c, command: { ...c.command, signer: 'service', keyId: 'service:ingest', author: 'service:ingest' } } }; break }
      case 'hugeCiphertext': body = { command: buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'A'.repeat(90_000), attachments: [] }, alice.keys, Date.now(), crypto) }; break
      case 'adminAsUser': body = { command: buildCommand('AdminDisableUser', { userId: bob.userId }, alice.keys, Date.now(), crypto) }; break
    }
    const path = kind === 'adminAsUser' && rnd() < 0.5 ? '/api/admin/commands' : '/api/commands'
    return { method: 'POST', path, headers: { 'content-type': 'application/json', ...sess(u) }, body: json(body), note: `${kind} command to ${path}` }
  }

  const badLogin = (): Req => {
    const kind = pick(['replayedChallenge', 'randomChallenge', 'badSignature', 'otherDevice'] as const)
    const challenge = kind === 'replayedChallenge' ? usedChallenge : toBase64url(crypto.randomBytes(32))
    const signature = kind === 'badSignature' || kind === 'otherDevice'
      ? signLoginChallenge({ challenge, username: 'bob', userId: bob.userId, deviceId: bob.deviceId }, alice.keys.device.secretKey, crypto)
      : signLoginChallenge({ challenge, username: 'bob', userId: bob.userId, deviceId: bob.deviceId }, bob.keys.device.secretKey, crypto)
    const body = { username: 'bob', password, deviceId: kind === 'otherDevice' ? alice.deviceId : bob.deviceId, challenge, signature }
    return { method: 'POST', path: '/api/login', headers: { 'content-type': 'application/json', cookie: `zixt_csrf=${'c'.repeat(43)}`, 'x-csrf-token': 'c'.repeat(43) }, body: json(body), note: `${kind} login` }
  }

  const badGet = (): Req => {
    const kind = pick(['noSession', 'badCookie', 'badParam', 'unknownQuery', 'notMember', 'unknownRoute'] as const)
    const path = pick(gets)
    switch (kind) {
      case 'noSession': return { method: 'GET', path, note: `GET ${path} without a session` }
      case 'badCookie': return { method: 'GET', path, headers: { cookie: `zixt_session=${pick(['', 'x', 'A'.repeat(43), '%00', 'A'.repeat(5000)])}` }, note: `GET ${path} with a bad cookie` }
      case 'badParam': return {
        method: 'GET', path: pick([`/api/threads/${threadId}/messages?limit=abc`, `/api/threads/${threadId}/messages?before=-1`, `/api/threads/${threadId}/mls?fromEpoch=1e9`,
          '/api/threads?hidden=2', `/api/threads/${'%2e%2e%2f'.repeat(3)}`, '/api/users/resolve?usernames=' + 'a,'.repeat(300), `/api/threads/${threadId}/messages?after=99999999999999999`,
          '/api/blobs/NOTHEX', `/api/blobs/${'A'.repeat(64)}`, `/api/threads/${'x'.repeat(65)}`, '/api/users/%ff%fe', '/api/admin/users?limit=-5']),
        headers: sess(bob), note: `GET bad parameter`,
      }
      case 'unknownQuery': return { method: 'GET', path: `${path}${path.includes('?') ? '&' : '?'}evil=1`, headers: sess(bob), note: `GET ${path} with an unknown query field` }
      case 'notMember': return { method: 'GET', path: pick([`/api/threads/${lonely}`, `/api/threads/${lonely}/messages`, `/api/threads/${lonely}/members`, `/api/threads/${lonely}/mls`, '/api/admin/users', `/api/blobs/${blobId}`]), headers: sess(bob), note: 'GET not allowed for Bob' }
      case 'unknownRoute': return { method: pick(['GET', 'DELETE', 'PATCH', 'POST']), path: pick(['/api/nope', '/api/threads/x/y/z', '/api/../etc/passwd', '/api/commands/1']), headers: { 'content-type': 'application/json', ...sess(bob) }, body: pick(['', '{}']), note: 'unknown route' }
    }
  }

  const badBlob = (): Req => {
    const kind = pick(['mismatch', 'badId', 'noSession', 'jsonType', 'declaredTooBig', 'noCsrf'] as const)
    const bytes = crypto.randomBytes(1 + int(5000))
    const id = kind === 'badId' ? pick(['abc', blobId.toUpperCase(), 'g'.repeat(64), `${blobId}00`]) : Buffer.from(crypto.sha256(crypto.randomBytes(8))).toString('hex')
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', ...sess(alice) }
    if (kind === 'noSession') delete headers['cookie']
    if (kind === 'noCsrf') delete headers['x-csrf-token']
    if (kind === 'jsonType') headers['content-type'] = 'application/json'
    if (kind === 'declaredTooBig') return { method: 'PUT', path: `/api/blobs/${id}`, headers: { ...headers, 'content-length': 16 * 1024 * 1024 }, body: [], note: 'blob: declared too big' }
    return { method: 'PUT', path: `/api/blobs/${id}`, headers, body: kind === 'jsonType' ? '{"a":1}' : bytes, note: `blob: ${kind}` }
  }

  // --- the run ------------------------------------------------------------------------------
  const problems: string[] = []
  const statuses = new Map<number, number>()
  const started = Date.now()
  let sent = 0
  for (; sent < requests && Date.now() - started < runMsMax; sent++) {
    const q = pick([badPost, badPost, badPost, badCommand, badCommand, badLogin, badGet, badGet, badBlob])()
    let r: RawResponse
    try {
      r = await rawRequest(s.url, q.method, q.path, { headers: q.headers, body: q.body })
    } catch (e) {
      if (q.note === 'blob: declared too big') continue // the server may answer and close before reading: fine
      problems.push(`${q.note}: ${(e as Error).message}`)
      continue
    }
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
    const p = judge(r, q)
    if (p !== null) problems.push(p)
  }
  t.comment(`${sent} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.ok(sent >= 200, 'a few hundred requests were sent')
  t.same(problems.slice(0, 20), [], 'every invalid request got a catalogued 4xx error code (first 20 problems shown)')

  // garbage ws frames: before auth (closed), after auth (error, socket stays open)
  const wsUrl = `${s.url.replace('http', 'ws')}/api/ws`
  const closeOf = (frames: (ws: WebSocket) => void, origin = s.url): Promise<{ code: number; messages: string[] }> => new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { origin })
    const messages: string[] = []
    ws.on('open', () => frames(ws))
    ws.on('message', (d) => messages.push(String(d)))
    ws.on('unexpected-response', (_q, res) => resolve({ code: res.statusCode ?? 0, messages }))
    ws.on('error', () => {})
    ws.on('close', (code) => resolve({ code, messages }))
  })
  for (const garbage of ['{', 'null', '[]', '7', '{"type":"auth"}', '{"type":"auth","ticket":42}', '{"type":"auth","ticket":"nope"}', '{"type":"typing","threadId":"x"}', 'x'.repeat(1 + int(1000))]) {
    const r = await closeOf((ws) => ws.send(garbage))
    t.equal(r.code, 4001, `garbage before auth closes the socket with 4001 (${garbage.slice(0, 30)})`)
  }
  t.equal((await closeOf((ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }))).code, 1009, 'a binary frame closes with 1009')
  t.equal((await closeOf((ws) => ws.send('x'.repeat(65 * 1024)))).code, 1009, 'a frame over 64 KiB closes with 1009')
  t.equal((await closeOf(() => {}, 'https://evil.example')).code, 403, 'a foreign Origin is refused')
  const wsTicket = (await rawRequest(s.url, 'POST', '/api/ws/ticket', { headers: { 'content-type': 'application/json', ...sess(bob) }, body: '{}' })).json as { ticket: string }
  const authed = await new Promise<{ messages: Record<string, unknown>[]; open: boolean }>((resolve) => {
    const ws = new WebSocket(wsUrl, { origin: s.url })
    const messages: Record<string, unknown>[] = []
    ws.on('open', () => ws.send(json({ type: 'auth', ticket: wsTicket.ticket })))
    ws.on('error', () => {})
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Record<string, unknown>
      messages.push(m)
      if (m['type'] === 'ready') for (const g of ['{', '{"type":"nope"}', json({ type: 'typing', threadId: lonely }), json({ type: 'typing', threadId: 42 }), '[]', 'null']) ws.send(g)
      if (messages.filter((x) => x['type'] === 'error').length === 6) {
        const open = ws.readyState === WebSocket.OPEN
        ws.close()
        resolve({ messages, open })
      }
    })
    setTimeout(() => resolve({ messages, open: ws.readyState === WebSocket.OPEN }), 8000).unref()
  })
  const errors = authed.messages.filter((m) => m['type'] === 'error')
  t.equal(errors.length, 6, 'after auth every garbage frame gets an error message')
  t.ok(errors.every((m) => typeof m['code'] === 'string' && httpStatus(m['code'] as string) !== 500), 'with catalogued codes')
  t.ok(errors.some((m) => m['code'] === 'ZIXT_ERR_NOT_MEMBER'), 'typing into a foreign thread is refused as NOT_MEMBER')
  t.ok(authed.open, 'and the socket stays open')

  // ws tickets are single use: the one just used is gone (and was the only Redis change)
  const after = await s.snapshot({ ignoreRedis: (k) => ignoreRedis(k) || k.startsWith('presence:') })
  const beforeNoPresence = { ...before, redis: Object.fromEntries(Object.entries(before.redis).filter(([k]) => !k.startsWith('presence:'))) }
  t.same(after.heights, before.heights, 'no replica appended a block')
  t.equal(after.position, before.position, 'the projections saw no new event')
  t.same(after.tables, beforeNoPresence.tables, 'every table (row count and checksum) is unchanged')
  t.same(after.redis, beforeNoPresence.redis, 'every Redis key of the prefix is unchanged (rate-limit and back-off counters aside)')
  t.same(after.files, before.files, 'no blob and no temp file was left')
})

// Every rejection path a user can reach, with the status and code docs/api.md promises.
// Written out by hand (not derived from httpErrors.ts), so a wrong catalog entry fails here.
t.test('rejection table: each path answers its documented status and code', async (t) => {
  const lf = await s.sys.redis.keys(`${s.prefix}lf:*`) // the fuzz's failed logins: start as from a fresh address
  if (lf.length > 0) await s.sys.redis.del(...lf)
  const alice = await s.register('rosa')
  const bob = await s.register('ravi')
  const unverified = await s.register('uma', { verify: false })
  const threadId = randomId(crypto)
  await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, Date.now(), crypto))
  const posted = buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, alice.keys, Date.now(), crypto)
  await alice.api.submit(posted)
  const auth = (u: TestUser) => ({ cookie: u.api.cookieHeader(), 'x-csrf-token': u.api.csrfToken!, 'content-type': 'application/json' })
  const post = (u: TestUser | null, path: string, body: unknown, extra: Record<string, string> = {}) =>
    rawRequest(s.url, 'POST', path, { headers: { ...(u === null ? { cookie: `zixt_csrf=${'c'.repeat(43)}`, 'x-csrf-token': 'c'.repeat(43), 'content-type': 'application/json' } : auth(u)), ...extra }, body: JSON.stringify(body) })
  const get = (u: TestUser | null, path: string) => rawRequest(s.url, 'GET', path, { headers: u === null ? {} : { cookie: u.api.cookieHeader() } })
  const cmd = (u: TestUser, type: Parameters<typeof buildCommand>[0], payload: object) => post(u, '/api/commands', { command: buildCommand(type, payload as never, u.keys, Date.now(), crypto) })
  const { challenge } = await bob.api.loginChallenge('ravi')
  const signature = signLoginChallenge({ challenge, username: 'ravi', userId: bob.userId, deviceId: bob.deviceId }, bob.keys.device.secretKey, crypto)
  const loginBody = { username: 'ravi', password, deviceId: bob.deviceId, challenge, signature }
  const before = await s.sys.read.position()

  const table: [string, number, string, () => Promise<RawResponse>][] = [
    ['unknown field', 400, 'ZIXT_ERR_SCHEMA', () => post(null, '/api/register/begin', { email: 'a@b.c', x: 1 })],
    ['wrong type', 400, 'ZIXT_ERR_SCHEMA', () => post(null, '/api/login/challenge', { username: 7 })],
    ['bad signature', 400, 'ZIXT_ERR_BAD_SIGNATURE', async () => { const c = buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, alice.keys, Date.now(), crypto); return post(alice, '/api/commands', { command: { ...c, command: { ...c.command, payload: { ...c.command.payload, ciphertext: 'BBBB' } } } }) }],
    ['clock skew', 400, 'ZIXT_ERR_CLOCK_SKEW', () => post(alice, '/api/commands', { command: buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, alice.keys, Date.now() - 3_600_000, crypto) })],
    ['weak password', 400, 'ZIXT_ERR_PASSWORD_WEAK', () => post(null, '/api/register/complete', { registrationId: 'AAAA', password: 'short', command: {} })],
    ['bad verify token', 400, 'ZIXT_ERR_VERIFY_TOKEN_INVALID', () => post(null, '/api/email/verify', { token: 'A'.repeat(43) })],
    ['TOTP code without enrolment', 404, 'ZIXT_ERR_NO_PENDING_TOTP', () => post(alice, '/api/totp/confirm', { code: '123456', command: {} })],
    ['backup codes without begin', 404, 'ZIXT_ERR_NO_PENDING_CODES', () => post(alice, '/api/backup-codes/complete', { command: {} })],
    ['registration expired', 404, 'ZIXT_ERR_REGISTRATION_EXPIRED', () => post(null, '/api/register/complete', { registrationId: 'AAAA', password, command: {} })],
    ['no session', 401, 'ZIXT_ERR_UNAUTHENTICATED', () => get(null, '/api/threads')],
    ['login: wrong password', 401, 'ZIXT_ERR_LOGIN_FAILED', () => post(null, '/api/login', { ...loginBody, password: 'not the password' })],
    ['login: replayed challenge', 401, 'ZIXT_ERR_CHALLENGE_INVALID', () => post(null, '/api/login', loginBody)],
    ['missing CSRF', 403, 'ZIXT_ERR_CSRF', () => rawRequest(s.url, 'POST', '/api/logout', { headers: { cookie: alice.api.cookieHeader(), 'content-type': 'application/json' }, body: '{}' })],
    ['foreign Origin', 403, 'ZIXT_ERR_ORIGIN', () => post(alice, '/api/logout', {}, { origin: 'https://evil.example' })],
    ['command of another user', 403, 'ZIXT_ERR_WRONG_SIGNER', () => post(bob, '/api/commands', { command: buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments: [] }, alice.keys, Date.now(), crypto) })],
    ['admin command by a user', 403, 'ZIXT_ERR_NOT_ADMIN', () => cmd(bob, 'AdminDisableUser', { userId: alice.userId })],
    ['read a foreign thread', 403, 'ZIXT_ERR_NOT_MEMBER', () => get(unverified, `/api/threads/${threadId}/messages`)],
    ['unverified posts', 403, 'ZIXT_ERR_EMAIL_UNVERIFIED', () => cmd(unverified, 'CreateThread', { threadId: randomId(crypto), groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [] })],
    ['non-owner adds', 403, 'ZIXT_ERR_NOT_OWNER', () => cmd(bob, 'AddMember', { threadId, userId: unverified.userId })],
    ['post to a foreign thread', 403, 'ZIXT_ERR_NOT_MEMBER', () => cmd(unverified, 'HideThread', { threadId })],
    ['unknown thread', 404, 'ZIXT_ERR_THREAD_NOT_FOUND', () => get(alice, `/api/threads/${randomId(crypto)}`)],
    ['unknown user', 404, 'ZIXT_ERR_USER_NOT_FOUND', () => get(alice, `/api/users/${'A'.repeat(43)}`)],
    ['unknown blob', 404, 'ZIXT_ERR_BLOB_NOT_FOUND', () => get(alice, `/api/blobs/${'0'.repeat(64)}`)],
    ['unknown route', 404, 'ZIXT_ERR_NOT_FOUND', () => get(alice, '/api/nope')],
    ['replayed command', 409, 'ZIXT_ERR_DUPLICATE_COMMAND', () => post(alice, '/api/commands', { command: posted })],
    ['already verified', 409, 'ZIXT_ERR_ALREADY_VERIFIED', () => post(alice, '/api/email/resend', {})],
    ['already a member', 409, 'ZIXT_ERR_ALREADY_MEMBER', () => cmd(alice, 'AddMember', { threadId, userId: bob.userId })],
    ['blob without length', 411, 'ZIXT_ERR_LENGTH_REQUIRED', () => rawRequest(s.url, 'PUT', `/api/blobs/${'0'.repeat(64)}`, { headers: { ...auth(alice), 'content-type': 'application/octet-stream' }, body: [new Uint8Array(10)] })],
    ['body over 1.5 MiB', 413, 'ZIXT_ERR_PAYLOAD_TOO_LARGE', () => post(alice, '/api/commands', { command: { pad: 'x'.repeat(1600 * 1024) } })],
    ['wrong Content-Type', 415, 'ZIXT_ERR_UNSUPPORTED_MEDIA_TYPE', () => post(alice, '/api/commands', {}, { 'content-type': 'text/xml' })],
  ]
  for (const [what, status, code, run] of table) {
    const r = await run()
    t.same([r.status, errorCode(r)], [status, code], `${what} → ${status} ${code}`)
  }
  t.equal(await s.sys.read.position(), before, 'none of them added an event to the ledger')
})
