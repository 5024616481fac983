// buildApp(deps): the whole HTTP + ws API as a Fastify instance that never listens
// (web/server/main.ts does). Tested through app.inject() and real sockets.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { extname, join, normalize } from 'node:path'
import cookie from '@fastify/cookie'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { utf8Encode } from '../../domain/encoding.ts'
import { limits } from '../../domain/limits.ts'
import { type AppDeps, Ctx } from './context.ts'
import { toHttpError, webError, WebError } from './httpErrors.ts'
import { adminRoutes } from './routes/admin.ts'
import { authRoutes } from './routes/auth.ts'
import { blobRoutes } from './routes/blobs.ts'
import { threadRoutes } from './routes/threads.ts'
import { constantTimeEqual } from './secrets.ts'
import { CSRF_COOKIE } from './sessions.ts'
import { LiveHub, liveRoutes } from './ws/live.ts'

export type { AppDeps }

const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:", "connect-src 'self'", "object-src 'none'",
  "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ')

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.map': 'application/json', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8',
}

async function checkCsrf(ctx: Ctx, req: FastifyRequest): Promise<void> {
  const origin = req.headers.origin
  if (origin !== undefined && origin !== ctx.config.origin) throw webError(WebError.origin, `Origin '${String(origin).slice(0, 100)}' not allowed`)
  const header = req.headers['x-csrf-token']
  if (typeof header !== 'string' || header.length === 0) throw webError(WebError.csrf, 'X-CSRF-Token header missing')
  const auth = await ctx.optionalAuth(req)
  const expected = auth !== null ? auth.session.csrf : req.cookies[CSRF_COOKIE]
  if (expected === undefined || !constantTimeEqual(utf8Encode(expected), utf8Encode(header))) throw webError(WebError.csrf, 'X-CSRF-Token does not match')
}

function sendError(ctx: Ctx, reply: FastifyReply, err: unknown): void {
  const h = toHttpError(err)
  if (h.status >= 500 && h.status !== 503) ctx.log(`web: internal error: ${(err as Error)?.stack ?? String(err)}`)
  if (h.retryAfterS !== undefined) reply.header('retry-after', String(h.retryAfterS))
  void reply.status(h.status).send(h.body)
}

export type ServerOptions = { readonly https?: { readonly key: Buffer; readonly cert: Buffer } }

export async function buildApp(deps: AppDeps, server: ServerOptions = {}): Promise<FastifyInstance & { hub: LiveHub }> {
  const ctx = new Ctx(deps)
  const app = Fastify({
    logger: false,
    bodyLimit: 1536 * 1024,
    // Fastify 5 leaves both at 0 (never): a client trickling a body would hold its socket forever.
    requestTimeout: limits.httpRequestTimeoutMs,
    connectionTimeout: limits.httpSocketIdleMs,
    trustProxy: false,
    ...(server.https === undefined ? {} : { https: { ...server.https, minVersion: 'TLSv1.3' as const } }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, useDefaults: false } },
    // Errors raised before routing (a URL that does not decode, …) get the catalog's shape too.
    frameworkErrors: (err, _req, reply) => sendError(ctx, reply, err),
    // A request the HTTP parser refuses never reaches Fastify: answer in the catalog's shape.
    // Node's requestTimeout lands here too (ERR_HTTP_REQUEST_TIMEOUT): 408, unless an answer already started.
    clientErrorHandler: (err, socket) => {
      const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
      if (!socket.writable || started) return socket.destroy()
      const code = (err as { code?: string }).code
      const body = code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? JSON.stringify({ error: { code: WebError.requestTimeout, message: `request not received within ${limits.httpRequestTimeoutMs} ms` } })
        : JSON.stringify({ error: { code: 'ZIXT_ERR_SCHEMA', message: `bad HTTP request (${code ?? 'parse error'})` } })
      const status = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    },
  })
  // Closed shapes everywhere (docs/api.md): a route without a declared query string takes
  // none, and a POST without a declared body takes exactly {} — an unknown field is a 400.
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {}) as { querystring?: unknown; body?: unknown }
    schema.querystring ??= { type: 'object', additionalProperties: false, properties: {} }
    if (route.method === 'POST' || (Array.isArray(route.method) && route.method.includes('POST'))) {
      schema.body ??= { type: 'object', additionalProperties: false, properties: {} }
    }
  })
  await app.register(cookie)
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } })

  app.addHook('onRequest', async (req, reply) => {
    reply.header('content-security-policy', CSP)
    reply.header('x-frame-options', 'DENY')
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cross-origin-opener-policy', 'same-origin')
    reply.header('cross-origin-resource-policy', 'same-origin')
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()')
    if (ctx.config.tls) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains')
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store')
  })
  app.addHook('preHandler', async (req) => {
    if (STATE_CHANGING.has(req.method) && req.url.startsWith('/api/')) await checkCsrf(ctx, req)
  })

  app.setErrorHandler((err, _req, reply) => sendError(ctx, reply, err))

  const sub = deps.subscriber ?? deps.redis.duplicate()
  const hub = new LiveHub(ctx, sub)
  authRoutes(app, ctx)
  threadRoutes(app, ctx)
  blobRoutes(app, ctx)
  adminRoutes(app, ctx)
  liveRoutes(app, ctx, hub)

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/') || req.method !== 'GET' || ctx.config.staticDir === null) {
      return reply.status(404).send({ error: { code: 'ZIXT_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } })
    }
    const dir = ctx.config.staticDir
    const path = decodeURIComponent(req.url.split('?')[0]!)
    const file = normalize(join(dir, path))
    const target = file.startsWith(normalize(dir)) && existsSync(file) && statSync(file).isFile() ? file : join(dir, 'index.html')
    if (!existsSync(target)) return reply.status(404).send({ error: { code: 'ZIXT_ERR_NOT_FOUND', message: 'the browser app is not built' } })
    return reply.type(MIME[extname(target)] ?? 'application/octet-stream').send(readFileSync(target))
  })

  app.addHook('onClose', async () => {
    hub.close()
    if (deps.subscriber === undefined) sub.disconnect()
    await ctx.stopShredSweep()
  })
  // crypto-shredding follows the ledger: deletions whose request never shredded (context.ts)
  ctx.startShredSweep()
  return Object.assign(app as unknown as FastifyInstance, { hub })
}
