// Encrypted attachment blobs: content-addressed (blobId = hex SHA-256 of the ciphertext),
// streamed to a temp file while hashing and counting, renamed into place only when both
// match. Download only for members of a thread whose message references the blob.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { limits } from '../../../domain/limits.ts'
import type { Ctx } from '../context.ts'
import { webError, WebError } from '../httpErrors.ts'

const BLOB_ID = /^[0-9a-f]{64}$/

export function blobPath(dir: string, blobId: string): string {
  return join(dir, blobId.slice(0, 2), blobId.slice(2, 4), blobId)
}

/**
 * Streams `source` to a temp file; resolves with its size and SHA-256 hex. Rejects (temp file
 * removed) past `max` bytes, or when no byte arrived for `idleMs`: a client that declares
 * 15 MiB and sends a byte a minute would otherwise hold a descriptor and a temp file forever.
 * `progress.bytes` counts what arrived, also when it rejects.
 */
function receive(source: Readable, tmp: string, o: { max: number; idleMs: number; progress: { bytes: number } }): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 })
    const hash = createHash('sha256') // node:crypto: streaming hash; the facade has one-shot sha256 only
    let failed = false
    const idle = setTimeout(() => fail(webError(WebError.requestTimeout, `body: no data for ${o.idleMs} ms; upload aborted`)), o.idleMs)
    const fail = (e: Error): void => {
      clearTimeout(idle)
      if (failed) return
      failed = true
      source.unpipe(out)
      source.resume()
      out.destroy()
      void rm(tmp, { force: true }).then(() => reject(e), () => reject(e))
    }
    source.on('data', (chunk: Buffer) => {
      idle.refresh()
      o.progress.bytes += chunk.length
      if (o.progress.bytes > o.max) return fail(webError(WebError.payloadTooLarge, `body: more than ${o.max} bytes`))
      hash.update(chunk)
    })
    source.on('end', () => clearTimeout(idle))
    source.on('error', fail)
    source.on('aborted', () => fail(new Error('upload aborted')))
    out.on('error', fail)
    out.on('finish', () => { if (!failed) resolve({ bytes: o.progress.bytes, sha256: hash.digest('hex') }) })
    source.pipe(out)
  })
}

/** Upload limits a deployment (or a test) may set in deps.config; the defaults are in domain/limits.ts. */
export type UploadConfig = { readonly blobUploadIdleMs?: number; readonly blobUploadBytesPerUserDayMax?: number }

const QUOTA_WINDOW_S = 24 * 3600

/**
 * Reserves `bytes` of the user's upload quota (a fixed 24 h window from the first upload, in
 * Redis); refused past the limit, the reservation undone. Returns the release of what was
 * reserved and not received (a failed or short upload costs only the bytes that came).
 */
async function reserveUploadBytes(ctx: Ctx, userId: string, bytes: number, limit: number): Promise<(received: number) => Promise<void>> {
  const key = `${ctx.prefix}rl:upload-bytes:${userId}`
  const r = (await ctx.d.redis.multi().incrby(key, bytes).expire(key, QUOTA_WINDOW_S, 'NX').ttl(key).exec()) ?? []
  const used = Number(r[0]?.[1] ?? 0)
  if (used > limit) {
    await ctx.d.redis.decrby(key, bytes)
    const retryAfterS = Math.max(1, Number(r[2]?.[1] ?? QUOTA_WINDOW_S))
    throw webError(WebError.rateLimited, `upload quota: at most ${limit} bytes per user per 24 h; ${used - bytes} used, ${bytes} more refused; retry in ${retryAfterS} s`, { retryAfterS })
  }
  return async (received) => {
    if (received < bytes) await ctx.d.redis.decrby(key, bytes - received)
  }
}

export function blobRoutes(app: FastifyInstance, ctx: Ctx): void {
  const dir = ctx.d.blobsDir
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  const max = ctx.config.blobBytesMax
  const upload = ctx.config as UploadConfig
  const idleMs = upload.blobUploadIdleMs ?? limits.blobUploadIdleMs
  const quotaBytes = upload.blobUploadBytesPerUserDayMax ?? limits.blobUploadBytesPerUserDayMax

  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

  app.put('/api/blobs/:blobId', { bodyLimit: max + 1 }, async (req, reply) => {
    const a = await ctx.auth(req)
    const { blobId } = req.params as { blobId: string }
    if (!BLOB_ID.test(blobId)) throw webError('ZIXT_ERR_SCHEMA', 'blobId: 64 lower-case hex characters (SHA-256 of the ciphertext)', { field: 'blobId' })
    const declared = req.headers['content-length']
    if (declared === undefined) throw webError(WebError.lengthRequired, 'Content-Length is required')
    if (Number(declared) > max) throw webError(WebError.payloadTooLarge, `Content-Length ${declared} exceeds ${max}`)
    if (!(req.body instanceof Object) || typeof (req.body as Readable).pipe !== 'function') throw webError(WebError.unsupportedMediaType, 'Content-Type must be application/octet-stream')
    await ctx.rate(`upload:${a.user.userId}`, ctx.config.rates.upload)
    const release = await reserveUploadBytes(ctx, a.user.userId, Number(declared), quotaBytes)
    const final = blobPath(dir, blobId)
    const tmp = join(dir, 'tmp', `${blobId}.${Date.now()}.${Math.random().toString(36).slice(2)}`)
    const progress = { bytes: 0 }
    const got = await receive(req.body as Readable, tmp, { max, idleMs, progress }).catch((e: unknown) => {
      reply.header('connection', 'close') // the rest of the body is not read: the socket goes with the answer
      throw e
    }).finally(() => release(progress.bytes))
    if (got.sha256 !== blobId) {
      await rm(tmp, { force: true })
      throw webError(WebError.blobMismatch, `body: SHA-256 is ${got.sha256}, not the blobId`)
    }
    const existed = existsSync(final)
    if (existed) await rm(tmp, { force: true })
    else {
      mkdirSync(join(dir, blobId.slice(0, 2), blobId.slice(2, 4)), { recursive: true })
      await rename(tmp, final)
    }
    await ctx.store.addBlob(blobId, a.user.userId, got.bytes, ctx.now())
    reply.status(existed ? 200 : 201)
    return { blobId, bytes: got.bytes }
  })

  app.get('/api/blobs/:blobId', async (req, reply) => {
    const a = await ctx.auth(req)
    const { blobId } = req.params as { blobId: string }
    const notFound = webError(WebError.blobNotFound, `blobId: no blob '${String(blobId).slice(0, 64)}' for you`)
    if (!BLOB_ID.test(blobId)) throw notFound
    const allowed = (await ctx.d.read.blobVisibleTo(blobId, a.user.userId)) || (await ctx.store.blobUploader(blobId)) === a.user.userId
    const file = blobPath(dir, blobId)
    if (!allowed || !existsSync(file)) throw notFound
    const s = await stat(file)
    reply.header('content-type', 'application/octet-stream').header('content-length', s.size).header('content-disposition', 'attachment')
    return reply.send(createReadStream(file))
  })
}
