// JSON Schema building blocks shared by every command and event schema, and the one
// place that runs ajv. Schemas are plain data; they are compiled lazily on first use so
// that importing the catalog (e.g. in the browser under a CSP without 'unsafe-eval')
// never constructs a validator.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { isBase64url } from './encoding.ts'
import { limits } from './limits.ts'
import { ErrorCode, ZixtError } from './errors.ts'

export type Schema = { readonly [keyword: string]: unknown }


/** Characters of the unpadded base64url spelling of n bytes. */
export function base64urlChars(bytes: number): number {
  return Math.ceil((bytes * 4) / 3)
}

/**
 * base64url string of minBytes..maxBytes bytes, strict (RFC 4648 §5 without padding: the
 * alphabet only, never a length ≡ 1 mod 4, the unused low bits of the last character zero,
 * so every byte string has exactly one spelling), checked by isBase64url.
 */
export function b64u(minBytes: number, maxBytes: number = minBytes): Schema {
  return {
    type: 'string',
    minLength: base64urlChars(minBytes),
    maxLength: base64urlChars(maxBytes),
    format: 'base64url',
  }
}

/** A closed object: every field in `required` must be present, none outside both lists. */
export function object(required: Record<string, Schema>, optional: Record<string, Schema> = {}): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(required),
    properties: { ...required, ...optional },
  }
}

export function array(items: Schema, minItems: number, maxItems: number, unique = false): Schema {
  return unique ? { type: 'array', items, minItems, maxItems, uniqueItems: true } : { type: 'array', items, minItems, maxItems }
}

export function literal(value: string): Schema {
  return { type: 'string', const: value }
}

export function oneOfStrings(values: readonly string[]): Schema {
  return { type: 'string', enum: [...values] }
}

export const integer = (minimum: number, maximum: number = Number.MAX_SAFE_INTEGER): Schema => ({ type: 'integer', minimum, maximum })

// ---------------------------------------------------------------------------------------
// Identifiers and key material. Ids derived from a hash are 32 bytes (SHA3-256), random
// ids 16 bytes; all travel as strict base64url.
export const ID_HASH_BYTES = 32
export const ID_RANDOM_BYTES = 16

export const commandIdSchema = b64u(limits.commandIdBytes)
/** userIdFor(identityPublicKey) (domain/identity.ts); stable across identity-key rotations. */
export const userIdSchema = b64u(ID_HASH_BYTES)
/** deviceIdFor(first device public key) (domain/identity.ts); stable across device-key rotations. */
export const deviceIdSchema = b64u(ID_HASH_BYTES)
/** Chosen by the creating client: 16 random bytes. */
export const threadIdSchema = b64u(ID_RANDOM_BYTES)
/** The MLS group id the creating client chose (RFC 9420 §8.1: opaque, unique). */
export const groupIdSchema = b64u(limits.mlsGroupIdBytesMin, limits.mlsGroupIdBytesMax)
/** 'service:<name>', listed in the genesis block. */
export const serviceKeyIdSchema: Schema = { type: 'string', minLength: 9, maxLength: 40, pattern: '^service:[a-z0-9][a-z0-9-]*$' }
/** 'replica:<index>' for commands signed by a replica identity key. */
export const replicaAuthorSchema: Schema = { type: 'string', minLength: 9, maxLength: 12, pattern: '^replica:(?:0|[1-9][0-9]{0,2})$' }

/** Lower-case ASCII only: no case or Unicode confusables; starts and ends alphanumeric. */
export const usernameSchema: Schema = {
  type: 'string',
  minLength: limits.usernameLengthMin,
  maxLength: limits.usernameLengthMax,
  pattern: '^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$',
}

export const slhDsaPublicKeySchema = b64u(64) // SLH-DSA-SHAKE-256f, FIPS 205 Table 2
export const slhDsaSignatureSchema = b64u(49856)
export const mlDsa65PublicKeySchema = b64u(1952) // ML-DSA-65, FIPS 204 Table 2
export const mlDsa65SignatureSchema = b64u(3309)
/** A ciphertext of personal data (e-mail) under the per-user data key held outside the ledger. */
export const encryptedFieldSchema = b64u(1, limits.encryptedFieldBytesMax)
export const sha3HashSchema = b64u(32)
export const timeSchema = integer(0)
export const positionSchema = integer(0)
export const epochSchema = integer(0)

// ---------------------------------------------------------------------------------------
// Validation: ajv errors mapped to ZixtError(ZIXT_ERR_SCHEMA, "payload.username: must be …").

let ajvInstance: Ajv | undefined
const compiled = new WeakMap<Schema, ValidateFunction>()

const ajvLogger = {
  log: (...args: unknown[]): void => console.log(...args),
  warn: (...args: unknown[]): void => {
    if (typeof args[0] === 'string' && args[0].startsWith('DEPRECATED: option unicode.')) return
    console.warn(...args)
  },
  error: (...args: unknown[]): void => console.error(...args),
}

function ajv(): Ajv {
  // strict: unknown keywords in our own schemas are bugs; allErrors off: stop at the first.
  // unicode off: lengths in UTF-16 code units. Every length-limited string in the catalog
  // is ASCII by its pattern (base64url, usernames, ids), where both counts agree; counting
  // code points walked each 4-kB signature character by character on every command.
  // Ajv 8 calls the option deprecated (and still honours it): only that notice is dropped.
  if (ajvInstance === undefined) {
    ajvInstance = new Ajv({ strict: true, allErrors: false, allowUnionTypes: false, unicode: false, logger: ajvLogger })
    ajvInstance.addFormat('base64url', { type: 'string', validate: isBase64url })
  }
  return ajvInstance
}

function validatorFor(schema: Schema): ValidateFunction {
  let v = compiled.get(schema)
  if (v === undefined) {
    v = ajv().compile(schema)
    compiled.set(schema, v)
  }
  return v
}

/** "/payload/members/2" → "payload.members[2]" */
export function fieldPath(instancePath: string, root: string): string {
  let out = root
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~')
    out += /^(?:0|[1-9][0-9]*)$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`
  }
  return out === '' ? '(root)' : out
}

function describe(e: ErrorObject, root: string): string {
  const p = e.params as Record<string, unknown>
  const at = fieldPath(e.instancePath, root)
  const child = (name: unknown) => fieldPath(`${e.instancePath}/${String(name)}`, root)
  switch (e.keyword) {
    case 'required': return `${child(p.missingProperty)}: is required`
    case 'additionalProperties': return `${child(p.additionalProperty)}: is not an allowed field`
    case 'type': return `${at}: must be ${String(p.type)}`
    case 'maxLength': return `${at}: must be at most ${String(p.limit)} characters`
    case 'minLength': return `${at}: must be at least ${String(p.limit)} characters`
    case 'maxItems': return `${at}: must have at most ${String(p.limit)} items`
    case 'minItems': return `${at}: must have at least ${String(p.limit)} items`
    case 'maximum': return `${at}: must be at most ${String(p.limit)}`
    case 'minimum': return `${at}: must be at least ${String(p.limit)}`
    case 'uniqueItems': return `${at}: items ${String(p.j)} and ${String(p.i)} are duplicates`
    case 'const': return `${at}: must be ${JSON.stringify(p.allowedValue)}`
    case 'enum': return `${at}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    case 'pattern': return `${at}: has the wrong format (must match ${String(p.pattern)})`
    case 'format': return `${at}: has the wrong format (must be ${String(p.format)}: RFC 4648 §5 without padding, unused trailing bits zero)`
    case 'minProperties': return `${at}: must have at least ${String(p.limit)} fields`
    default: return `${at}: ${e.message ?? e.keyword}`
  }
}

/** Throws ZixtError(ZIXT_ERR_SCHEMA) naming the first bad field; `root` prefixes paths. */
export function validate(schema: Schema, value: unknown, root = ''): void {
  const v = validatorFor(schema)
  if (v(value)) return
  const first = v.errors?.[0]
  const message = first === undefined ? `${root || '(root)'}: invalid` : describe(first, root)
  throw new ZixtError(ErrorCode.schema, message, { field: first ? fieldPath(first.instancePath, root) : root })
}

/** Like validate but returns the error instead of throwing. */
export function check(schema: Schema, value: unknown, root = ''): ZixtError | undefined {
  try {
    validate(schema, value, root)
    return undefined
  } catch (e) {
    if (e instanceof ZixtError) return e
    throw e
  }
}
