// What goes inside an MLS application message: one canonically encoded map
// (domain/ledger/codec.ts) with a version and a kind. Everything a reader sees comes
// from here, so decode is strict: exact field sets, types, lengths, the attachment
// key sizes, and the MIME type must be the one of the declared type.
// Bytes are forever (STYLE rule 4): a new shape is a new `v` or a new kind.
import { decode, encode, type Value } from '../../../../domain/ledger/codec.ts'
import { CodecError, ErrorCode, ZixtError } from '../../../../domain/errors.ts'
import { limits } from '../../../../domain/limits.ts'
import { AttachmentType, mimeOf } from '../attachments/fileType.ts'
import type { AttachmentRef } from '../attachments/attachment.ts'

export const CONTENT_VERSION = 1

/** Local limits of the payload format (candidates for domain/limits.ts). */
export const contentLimits = {
  textBytesMax: 48 * 1024, // leaves room for the ML-DSA-87 signature inside messageCiphertextBytesMax
  fileNameBytesMax: 255,
  emojiBytesMax: 64,
} as const

export type TextContent = { readonly kind: 'text'; readonly text: string }
export type AttachmentContent = { readonly kind: 'attachment' } & AttachmentRef
/** Replaces the text of message `messageId` (ledger position of its MessagePosted). */
export type EditContent = { readonly kind: 'edit'; readonly messageId: number; readonly text: string }
export type ReactionContent = { readonly kind: 'reaction'; readonly messageId: number; readonly emoji: string; readonly action: 'add' | 'remove' }

export type MessageContent = TextContent | AttachmentContent | EditContent | ReactionContent

export class ContentError extends ZixtError {
  override name = 'ContentError'
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.schema, message, details)
  }
}

const utf8 = new TextEncoder()

function text(field: string, v: unknown, bytesMax: number, allowEmpty = false): string {
  if (typeof v !== 'string') throw new ContentError(`${field} must be a string`, { field })
  const n = utf8.encode(v).length
  if ((!allowEmpty && n === 0) || n > bytesMax) throw new ContentError(`${field} is ${n} bytes, want ${allowEmpty ? 0 : 1}..${bytesMax}`, { field })
  if (v.includes('\u0000')) throw new ContentError(`${field} contains NUL`, { field })
  return v
}

// Control characters and bidi overrides in a file name hide its real extension; path
// separators and dot names would escape a download folder.
const BAD_NAME = /[\u0000-\u001f\u007f-\u009f/\\\u202a-\u202e\u2066-\u2069]/

function fileName(v: unknown): string {
  const name = text('name', v, contentLimits.fileNameBytesMax)
  if (BAD_NAME.test(name) || name === '.' || name === '..') throw new ContentError('name contains a control, bidi or path character', { field: 'name' })
  return name
}

function bytesOf(field: string, v: unknown, length: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== length) throw new ContentError(`${field} must be ${length} bytes`, { field })
  return v
}

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ContentError(`${field} must be an integer in ${min}..${max}`, { field })
  return v
}

function exactKeys(m: Record<string, unknown>, want: readonly string[]): void {
  const have = Object.keys(m).sort()
  const w = [...want].sort()
  if (have.length !== w.length || have.some((k, i) => k !== w[i])) {
    throw new ContentError(`fields are [${have.join(', ')}], want [${w.join(', ')}]`, { have, want: w })
  }
}

/** Validates and encodes. Throws ContentError for anything decode would refuse. */
export function encodeContent(content: MessageContent): Uint8Array {
  const bytes = encode(toValue(content))
  decodeContent(bytes) // one set of rules: what we send is what we would accept
  return bytes
}

function toValue(c: MessageContent): Value {
  const v = CONTENT_VERSION
  switch (c.kind) {
    case 'text':
      return { v, kind: c.kind, text: c.text }
    case 'attachment':
      return { v, kind: c.kind, name: c.name, mime: c.mime, type: c.type, blobId: c.blobId, key: c.key, nonce: c.nonce, size: c.size }
    case 'edit':
      return { v, kind: c.kind, messageId: c.messageId, text: c.text }
    case 'reaction':
      return { v, kind: c.kind, messageId: c.messageId, emoji: c.emoji, action: c.action }
  }
}

export function decodeContent(bytes: Uint8Array): MessageContent {
  let value: Value
  try {
    value = decode(bytes)
  } catch (e) {
    if (e instanceof CodecError) throw new ContentError(`content is not canonical: ${e.message}`)
    throw e
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new ContentError('content is not a map')
  const m = value as Record<string, unknown>
  if (m['v'] !== CONTENT_VERSION) throw new ContentError(`content version ${String(m['v'])} is not ${CONTENT_VERSION}`, { field: 'v' })
  switch (m['kind']) {
    case 'text':
      exactKeys(m, ['v', 'kind', 'text'])
      return { kind: 'text', text: text('text', m['text'], contentLimits.textBytesMax) }
    case 'attachment':
      return attachment(m)
    case 'edit':
      exactKeys(m, ['v', 'kind', 'messageId', 'text'])
      return { kind: 'edit', messageId: int('messageId', m['messageId'], 0, Number.MAX_SAFE_INTEGER), text: text('text', m['text'], contentLimits.textBytesMax) }
    case 'reaction': {
      exactKeys(m, ['v', 'kind', 'messageId', 'emoji', 'action'])
      const action = m['action']
      if (action !== 'add' && action !== 'remove') throw new ContentError('action must be add or remove', { field: 'action' })
      return { kind: 'reaction', messageId: int('messageId', m['messageId'], 0, Number.MAX_SAFE_INTEGER), emoji: text('emoji', m['emoji'], contentLimits.emojiBytesMax), action }
    }
    default:
      throw new ContentError(`unknown content kind ${JSON.stringify(m['kind'])}`, { field: 'kind' })
  }
}

function attachment(m: Record<string, unknown>): AttachmentContent {
  exactKeys(m, ['v', 'kind', 'name', 'mime', 'type', 'blobId', 'key', 'nonce', 'size'])
  const type = m['type']
  if (typeof type !== 'string' || !(AttachmentType as readonly string[]).includes(type)) throw new ContentError(`type must be one of ${AttachmentType.join(', ')}`, { field: 'type' })
  const t = type as AttachmentType
  if (m['mime'] !== mimeOf[t]) throw new ContentError(`mime must be ${mimeOf[t]} for ${t}`, { field: 'mime' })
  const blobId = m['blobId']
  if (typeof blobId !== 'string' || !/^[0-9a-f]{64}$/.test(blobId)) throw new ContentError('blobId must be 64 lower-case hex characters', { field: 'blobId' })
  return {
    kind: 'attachment',
    name: fileName(m['name']),
    mime: mimeOf[t],
    type: t,
    blobId,
    key: bytesOf('key', m['key'], 32),
    nonce: bytesOf('nonce', m['nonce'], 12),
    size: int('size', m['size'], 0, limits.attachmentPlainBytesMax),
  }
}
