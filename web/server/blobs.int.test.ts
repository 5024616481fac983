// Blob uploads that stall or exceed the per-user daily quota, and download rights that a
// quoted blobId must not regain — through the whole stack (real cluster, MariaDB, Redis, web).
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { join } from 'node:path'
import { ApiError } from '../client/core/api/client.ts'
import { buildCommand, randomId } from '../client/core/api/commands.ts'
import type { WebConfig } from './context.ts'
import { blobFiles, crypto, startWebStack, type TestUser, type WebStack } from './fuzz/stack.ts'
import type { UploadConfig } from './routes/blobs.ts'

t.setTimeout(240_000)
const idleMs = 500
const quotaBytes = 2_000_000
let s: WebStack
t.before(async () => {
  const config: Partial<WebConfig> & UploadConfig = { blobUploadIdleMs: idleMs, blobUploadBytesPerUserDayMax: quotaBytes }
  s = await startWebStack({ tag: 'blob', config })
})
t.teardown(async () => s?.stop())

const now = () => Date.now()
const rejects = async (t: Test, p: Promise<unknown>, status: number, code: string, what: string): Promise<ApiError | null> => {
  const e = await p.then(() => null, (x: unknown) => x)
  t.ok(e instanceof ApiError, `${what}: refused`)
  t.same(e instanceof ApiError ? [e.status, e.code] : e, [status, code], what)
  return e instanceof ApiError ? e : null
}
const idOf = (bytes: Uint8Array) => Buffer.from(crypto.sha256(bytes)).toString('hex')

/** A PUT that declares `declared` bytes, sends `first` and then nothing; resolves with the answer and when the socket closed. */
function stalledPut(u: TestUser, blobId: string, declared: number, first: Uint8Array) {
  const url = new URL(`/api/blobs/${blobId}`, s.url)
  const headers = { cookie: u.api.cookieHeader(), 'x-csrf-token': u.api.csrfToken!, 'content-type': 'application/octet-stream', 'content-length': declared }
  const start = Date.now()
  return new Promise<{ status: number; code: string | null; afterMs: number; closed: Promise<number> }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: url.pathname, headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += String(d) })
      res.on('end', () => {
        const afterMs = Date.now() - start
        const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null
        resolve({ status: res.statusCode ?? 0, code, afterMs, closed })
      })
    })
    const closed = new Promise<number>((r) => req.on('close', () => r(Date.now() - start)))
    req.on('error', () => {}) // the server ends the socket with the answer; the unsent body is the client's problem
    req.setTimeout(10_000, () => req.destroy(new Error('no answer to a stalled upload')))
    req.on('error', reject)
    req.write(first)
  })
}

t.test('uploads: server timeouts, a stalled upload is aborted, a per-user daily byte quota', async (t) => {
  const server = s.sys.apps[0]!.server
  t.ok(server.requestTimeout > 0 && server.timeout > 0, `the HTTP server times requests and idle sockets out (requestTimeout ${server.requestTimeout} ms, socket idle ${server.timeout} ms)`)

  const ada = await s.register('ada')
  const tmp = join(s.dataDir, 'blobs', 'tmp')
  const stalled = await stalledPut(ada, idOf(crypto.randomBytes(8)), 1_000_000, crypto.randomBytes(10))
  t.same([stalled.status, stalled.code], [408, 'ZIXT_ERR_REQUEST_TIMEOUT'], 'an upload that stops sending is answered 408')
  t.ok(stalled.afterMs >= idleMs && stalled.afterMs < idleMs + 3000, `within the idle limit (${stalled.afterMs} ms for ${idleMs} ms)`)
  t.ok((await stalled.closed) < 10_000, 'and its connection is closed')
  t.same(blobFiles(tmp), [], 'no temp file is left')

  // the stalled upload reserved 1,000,000 bytes of the quota and used 10: the rest came back
  const big = new Uint8Array(randomBytes(1_500_000)) // over the facade's 1 MiB per call
  t.same(await ada.api.putBlob(idOf(big), big), { blobId: idOf(big), bytes: big.length }, 'an upload within the quota is stored')
  const over = crypto.randomBytes(600_000)
  const e = await rejects(t, ada.api.putBlob(idOf(over), over), 429, 'ZIXT_ERR_RATE_LIMITED', 'an upload past the daily byte quota is refused')
  t.match(e?.message, `at most ${quotaBytes} bytes per user per 24 h`, 'the refusal names the limit')
  t.ok((e?.retryAfterS ?? 0) > 0, 'with Retry-After')
  await rejects(t, ada.api.getBlob(idOf(over)), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'the refused blob was not stored')
  const bea = await s.register('bea')
  t.same(await bea.api.putBlob(idOf(over), over), { blobId: idOf(over), bytes: over.length }, 'the quota is per user')
  t.same(blobFiles(tmp), [], 'still no temp file')
})

t.test('a removed member cannot regain a blob by quoting its id in a thread of his own', async (t) => {
  const alice = await s.register('alice')
  const bob = await s.register('bob')
  const data = crypto.randomBytes(3000)
  const blobId = idOf(data)
  await alice.api.putBlob(blobId, data)
  const threadId = randomId(crypto)
  await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, now(), crypto))
  const attachments = [{ blobId, ciphertextBytes: data.length, type: 'PDF' as const }]
  await alice.api.submit(buildCommand('PostMessage', { threadId, epoch: 0, ciphertext: 'AAAA', attachments }, alice.keys, now(), crypto))
  t.same(await bob.api.getBlob(blobId), data, 'a member downloads the attachment')
  await alice.api.submit(buildCommand('RemoveMember', { threadId, userId: bob.userId }, alice.keys, now(), crypto))
  await rejects(t, bob.api.getBlob(blobId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'a removed member no longer does')

  const own = randomId(crypto)
  await bob.api.submit(buildCommand('CreateThread', { threadId: own, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [] }, bob.keys, now(), crypto))
  const quoted = await rejects(t, bob.api.submit(buildCommand('PostMessage', { threadId: own, epoch: 0, ciphertext: 'AAAA', attachments }, bob.keys, now(), crypto)), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'a message quoting a blob he may not read is refused')
  t.equal(quoted?.field, 'command.payload.attachments[0].blobId', 'the refusal names the attachment')
  t.same((await bob.api.messages(own)).messages, [], 'nothing was posted')
  await rejects(t, bob.api.getBlob(blobId), 404, 'ZIXT_ERR_BLOB_NOT_FOUND', 'and the blob stays out of his reach')

  // what stays allowed: his own upload, and forwarding a blob he can read
  const mine = crypto.randomBytes(2000)
  await bob.api.putBlob(idOf(mine), mine)
  await bob.api.submit(buildCommand('PostMessage', { threadId: own, epoch: 0, ciphertext: 'AAAA', attachments: [{ blobId: idOf(mine), ciphertextBytes: mine.length, type: 'PNG' }] }, bob.keys, now(), crypto))
  t.equal((await bob.api.messages(own)).messages.length, 1, 'he attaches a blob he uploaded')
  const carol = await s.register('carol')
  const back = randomId(crypto)
  await bob.api.submit(buildCommand('CreateThread', { threadId: back, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [carol.userId] }, bob.keys, now(), crypto))
  await bob.api.submit(buildCommand('PostMessage', { threadId: back, epoch: 0, ciphertext: 'AAAA', attachments: [{ blobId: idOf(mine), ciphertextBytes: mine.length, type: 'PNG' }] }, bob.keys, now(), crypto))
  const fwd = randomId(crypto)
  await carol.api.submit(buildCommand('CreateThread', { threadId: fwd, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [] }, carol.keys, now(), crypto))
  await carol.api.submit(buildCommand('PostMessage', { threadId: fwd, epoch: 0, ciphertext: 'AAAA', attachments: [{ blobId: idOf(mine), ciphertextBytes: mine.length, type: 'PNG' }] }, carol.keys, now(), crypto))
  t.equal((await carol.api.messages(fwd)).messages.length, 1, 'a member who can download a blob forwards it into another thread')
})
