// Every command and event schema refuses wrong types, oversized values, missing and
// unknown fields, and the error names the field. Samples are generated from the
// schemas themselves, so a new command type is covered the day it is added.
import t, { type Test } from 'tap'
import { parseSignedCommand } from './command.ts'
import { commandEnvelopeSchema, commandSpecs, commandTypes } from './commands.ts'
import { ZixtError } from './errors.ts'
import { eventSpecs, eventTypes } from './events.ts'
import { check, fieldPath, type Schema, validate } from './schemas.ts'
import { fromBase64url, isBase64url, toBase64url } from './encoding.ts'

type S = Record<string, unknown> & { type?: string; properties?: Record<string, S>; required?: string[] }

function sampleString(s: S, length: number): string {
  const pattern = s.pattern as string | undefined
  if (s.const !== undefined) return s.const as string
  if (s.enum !== undefined) return (s.enum as string[])[0]!
  if (pattern === undefined || s.format === 'base64url') return 'A'.repeat(length)
  if (pattern.startsWith('^service:')) return 'service:' + 'a'.repeat(Math.max(1, length - 8))
  if (pattern.startsWith('^replica:')) return 'replica:' + '1'.repeat(Math.max(1, length - 8))
  if (pattern.includes('0-9a-f')) return '0'.repeat(length)
  return 'a'.repeat(length) // usernames
}

/** A valid value for the schema, every optional field included. */
function sample(s: S, variant = 0): unknown {
  if (s.anyOf) return sample((s.anyOf as S[])[0]!, variant)
  switch (s.type) {
    case 'string': {
      const min = (s.minLength as number | undefined) ?? 1
      return sampleString(s, min % 4 === 1 ? min + 1 : min)
    }
    case 'integer': return (s.minimum as number | undefined) ?? 0
    case 'boolean': return true
    case 'array': {
      const n = Math.max((s.minItems as number) ?? 0, 1)
      return Array.from({ length: Math.min(n, (s.maxItems as number) ?? n) }, (_, i) => sample(s.items as S, i))
    }
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(s.properties ?? {})) out[k] = sample(v, variant)
      return out
    }
  }
  throw new Error(`no sample for ${JSON.stringify(s).slice(0, 80)}`)
}

/** A value of another JSON type than the schema's. */
function wrongType(s: S): unknown {
  const type = s.type ?? (s.anyOf as S[] | undefined)?.[0]?.type
  return type === 'string' ? 12 : 'not-a-' + String(type)
}

/** A value just past the schema's size limit, or undefined if it has none. */
function oversized(s: S): unknown {
  if (s.type === 'string' && typeof s.maxLength === 'number' && s.const === undefined && s.enum === undefined) {
    const n = s.maxLength + 1
    return sampleString(s, n % 4 === 1 ? n + 1 : n)
  }
  if (s.type === 'integer' && typeof s.maximum === 'number' && s.maximum < Number.MAX_SAFE_INTEGER) return s.maximum + 1
  if (s.type === 'array' && typeof s.maxItems === 'number') return Array.from({ length: s.maxItems + 1 }, (_, i) => sample(s.items as S, i))
  return undefined
}

function expectError(t: Test, f: () => void, field: string, what: string): void {
  try {
    f()
    t.fail(`${what}: accepted`)
  } catch (e) {
    if (!(e instanceof ZixtError)) throw e
    t.equal(e.code, 'ZIXT_ERR_SCHEMA', `${what}: code`)
    t.ok(e.message.startsWith(`${field}`), `${what}: "${e.message}" names ${field}`)
  }
}

/** Runs the four mutations on every top-level field of an object schema. */
function mutations(t: Test, schema: S, valid: Record<string, unknown>, run: (v: unknown) => void, root: string): void {
  run(valid) // the sample itself passes
  expectError(t, () => run({ ...valid, bogus: 1 }), `${root}.bogus`, 'unknown field')
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const field = `${root}.${key}`
    if (schema.required?.includes(key)) {
      const { [key]: _, ...rest } = valid
      expectError(t, () => run(rest), field, `missing ${key}`)
    }
    expectError(t, () => run({ ...valid, [key]: wrongType(sub) }), field, `wrong type for ${key}`)
    const big = oversized(sub)
    if (big !== undefined) expectError(t, () => run({ ...valid, [key]: big }), field, `oversized ${key}`)
  }
}

const SIGNATURE = 'A'.repeat(4412)

t.test('command schemas', async (t) => {
  for (const type of commandTypes) {
    t.test(type, async (t) => {
      const spec = commandSpecs[type]
      const signer = spec.signers[0]!
      const envelope = commandEnvelopeSchema(type, signer) as S
      const command = { ...(sample(envelope) as Record<string, unknown>), type, signer, payload: sample(spec.payload as S) }
      const run = (payload: unknown) => parseSignedCommand({ command: { ...command, payload }, signature: SIGNATURE })
      mutations(t, spec.payload as S, command.payload as Record<string, unknown>, run, 'payload')
      const runEnvelope = (c: unknown) => parseSignedCommand({ command: c, signature: SIGNATURE })
      const { payload: _, ...rest } = envelope.properties!
      mutations(t, { ...envelope, properties: rest }, command, runEnvelope, 'command')
    })
  }
})

t.test('event schemas', async (t) => {
  for (const type of eventTypes) {
    t.test(type, async (t) => {
      const schema = eventSpecs[type].payload as S
      mutations(t, schema, sample(schema) as Record<string, unknown>, (v) => validate(schema as Schema, v, 'payload'), 'payload')
    })
  }
})

t.test('messages read like a person wrote them', async (t) => {
  const username = (commandSpecs.RegisterUser.payload as S).properties!.username as Schema
  t.equal(check(username, 'a'.repeat(33), 'payload.username')?.message, 'payload.username: must be at most 32 characters')
  t.equal(check(username, 'Alice', 'payload.username')?.message.startsWith('payload.username: has the wrong format'), true)
  t.equal(fieldPath('/members/2', 'payload'), 'payload.members[2]')
  const b64 = { type: 'string', format: 'base64url' }
  t.equal(check(b64, 'AQ'), undefined, "'AQ' (one byte 0x01) is canonical")
  t.equal(check(b64, 'AR', 'signature')?.message, 'signature: has the wrong format (must be base64url: RFC 4648 §5 without padding, unused trailing bits zero)', "'AR' has non-zero trailing bits")
  t.not(check(b64, 'AAAAA'), undefined, 'length 1 mod 4')
  t.not(check(b64, 'AA=='), undefined, 'padding')
})

t.test("format 'base64url' accepts exactly what the strict pattern and fromBase64url accept", async (t) => {
  // The rule as a regular expression (the schemas used it until it showed up in profiles).
  const pattern = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$/
  const b64 = { type: 'string', format: 'base64url' }
  const chars = 'AQgwBRhx_-9+/=. é'
  let state = 7
  const next = (n: number): number => { state = (state * 1103515245 + 12345) % 2 ** 31; return state % n }
  let accepted = 0
  for (let i = 0; i < 5000; i++) {
    let s = ''
    const len = next(9)
    for (let j = 0; j < len; j++) s += chars[next(next(4) === 0 ? chars.length : 6)]
    const byPattern = pattern.test(s)
    let byDecoder = true
    try { fromBase64url(s) } catch { byDecoder = false }
    if (isBase64url(s) !== byPattern || byDecoder !== byPattern || (check(b64, s) === undefined) !== byPattern) {
      t.fail(`disagree on ${JSON.stringify(s)}: pattern ${byPattern}, isBase64url ${isBase64url(s)}, decoder ${byDecoder}`)
      return
    }
    if (byPattern) accepted++
  }
  t.ok(accepted > 500 && accepted < 4500, `both kinds of string were tried (${accepted} of 5,000 accepted)`)
  t.ok(isBase64url(toBase64url(new Uint8Array(3309).fill(0xa5))), 'a signature-sized value')
})
