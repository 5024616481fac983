// Encrypted attachment blobs: content-addressed (blobId = hex SHA-256 of the ciphertext),
// streamed to a temp file while hashing and counting, renamed into place only when both
// match. Download only for members of a thread whose message references the blob.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Ctx } from '../context.ts'
import { webError, WebError } from '../httpErrors.ts'

const BLOB_ID = /^[0-9a-f]{64}$/

export function blobPath(dir: string, blobId: string): string {
  return join(dir, blobId.slice(0, 2), blobId.slice(2, 4), blobId)
}

/** Streams `source` to a temp file; resolves with its size and SHA-256 hex, or rejects (temp removed) past `max` bytes. */
function receive(source: Readable, tmp: string, max: number): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 })
    const hash = createHash('sha256') // node:crypto: streaming hash; the facade has one-shot sha256 only
    let bytes = 0
    let failed = false
    const fail = (e: Error): void => {
      if (failed) return
      failed = true
      source.unpipe(out)
      source.resume()
      out.destroy()
      void rm(tmp, { force: true }).then(() => reject(e), () => reject(e))
    }
    source.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes > max) return fail(webError(WebError.payloadTooLarge, `body: more than ${max} bytes`))
      hash.update(chunk)
    })
    source.on('error', fail)
    source.on('aborted', () => fail(new Error('upload aborted')))
    out.on('error', fail)
    out.on('finish', () => { if (!failed) resolve({ bytes, sha256: hash.digest('hex') }) })
    source.pipe(out)
  })
}

export function blobRoutes(app: FastifyInstance, ctx: Ctx): void {
  const dir = ctx.d.blobsDir
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  const max = ctx.config.blobBytesMax

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
    const final = blobPath(dir, blobId)
    const tmp = join(dir, 'tmp', `${blobId}.${Date.now()}.${Math.random().toString(36).slice(2)}`)
    const got = await receive(req.body as Readable, tmp, max)
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
