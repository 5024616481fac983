// The status catalog in web/server/httpErrors.ts against the table users read in
// docs/api.md ("Error codes → HTTP status"), and toHttpError's shape for what Fastify throws.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { ZixtError } from '../../domain/errors.ts'
import { Rejection } from '../../domain/rejections.ts'
import { httpStatus, toHttpError, WebError } from './httpErrors.ts'

const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')
const section = doc.slice(doc.indexOf('## Error codes → HTTP status'))
const documented = new Map<string, number>()
for (const line of section.split('\n')) {
  const m = /^\| (\d{3}) \| (.+) \|$/.exec(line)
  if (m === null) continue
  for (const code of m[2]!.split(',').map((c) => c.trim().replace(/\s*\(.*\)$/, ''))) documented.set(`ZIXT_ERR_${code}`, Number(m[1]))
}

t.test('every documented code answers its documented status', async (t) => {
  t.ok(documented.size > 60, `the docs table was read (${documented.size} codes)`)
  for (const [code, status] of documented) t.equal(httpStatus(code), status, `${code} → ${status}`)
})

t.test('every code the web or the domain raises is documented', async (t) => {
  for (const code of [...Object.values(WebError), ...Object.values(Rejection)]) {
    if (typeof code !== 'string' || !code.startsWith('ZIXT_ERR_')) continue
    t.ok(documented.has(code), `${code} is in docs/api.md`)
    t.not(httpStatus(code), code === WebError.internal ? 0 : 500, `${code} has a status`)
  }
})

t.test('toHttpError', async (t) => {
  t.same(toHttpError(new ZixtError('ZIXT_ERR_NOT_MEMBER', 'threadId: not a member', { field: 'threadId' })),
    { status: 403, body: { error: { code: 'ZIXT_ERR_NOT_MEMBER', message: 'threadId: not a member', field: 'threadId' } } }, 'a ZixtError keeps code, message and field')
  t.same(toHttpError(new ZixtError('ZIXT_ERR_RATE_LIMITED', 'slow down', { retryAfterS: 7 })).retryAfterS, 7, 'Retry-After travels')
  const unknown = toHttpError(new ZixtError('ZIXT_ERR_SOMETHING_NEW', 'secret detail'))
  t.same(unknown, { status: 500, body: { error: { code: 'ZIXT_ERR_INTERNAL', message: 'internal error' } } }, 'an unknown code is a 500 that leaks no message')
  t.same(toHttpError(new TypeError('x is undefined')).status, 500, 'a plain bug is a 500')
  t.same(toHttpError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).body.error.code, WebError.payloadTooLarge)
  t.same(toHttpError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).body.error.code, WebError.unsupportedMediaType)
  t.same(toHttpError({ code: 'FST_ERR_BAD_URL', statusCode: 400, message: 'bad url' }), { status: 400, body: { error: { code: 'ZIXT_ERR_SCHEMA', message: 'bad url' } } })
  t.same(toHttpError({ validation: [], validationContext: 'body', message: 'must be object' }).body.error, { code: 'ZIXT_ERR_SCHEMA', message: 'body: must be object' })
})
