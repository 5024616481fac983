import t from 'tap'
import { encode } from '../../../../domain/ledger/codec.ts'
import { ErrorCode } from '../../../../domain/errors.ts'
import { limits } from '../../../../domain/limits.ts'
import { contentLimits, decodeContent, encodeContent, type MessageContent } from './content.ts'

const key = new Uint8Array(32).fill(7)
const nonce = new Uint8Array(12).fill(9)
const blobId = 'ab'.repeat(32)
const good: MessageContent[] = [
  { kind: 'text', text: 'hello <script>alert(1)</script> 🎉' },
  { kind: 'attachment', name: 'Quarterly report.pdf', mime: 'application/pdf', type: 'PDF', blobId, key, nonce, size: 1234 },
  { kind: 'attachment', name: 'pic.png', mime: 'image/png', type: 'PNG', blobId, key, nonce, size: 0 },
  { kind: 'edit', messageId: 42, text: 'fixed typo' },
  { kind: 'reaction', messageId: 7, emoji: '👍', action: 'add' },
  { kind: 'reaction', messageId: 7, emoji: '👍', action: 'remove' },
]

t.test('round trip is exact and canonical', async (t) => {
  for (const c of good) {
    const bytes = encodeContent(c)
    t.same(decodeContent(bytes), c, c.kind)
    t.same(encodeContent(decodeContent(bytes)), bytes, `${c.kind}: one encoding`)
  }
})

const base = { v: 1, kind: 'attachment', name: 'a.pdf', mime: 'application/pdf', type: 'PDF', blobId, key, nonce, size: 1 }
const bad: [string, Record<string, unknown>][] = [
  ['unknown kind', { v: 1, kind: 'html', text: 'x' }],
  ['wrong version', { v: 2, kind: 'text', text: 'x' }],
  ['missing version', { kind: 'text', text: 'x' }],
  ['extra field', { v: 1, kind: 'text', text: 'x', html: '<b>' }],
  ['missing field', { v: 1, kind: 'edit', text: 'x' }],
  ['empty text', { v: 1, kind: 'text', text: '' }],
  ['text too long', { v: 1, kind: 'text', text: 'x'.repeat(contentLimits.textBytesMax + 1) }],
  ['text as bytes', { v: 1, kind: 'text', text: new Uint8Array(3) }],
  ['NUL in text', { v: 1, kind: 'text', text: 'a\u0000b' }],
  ['negative messageId', { v: 1, kind: 'edit', messageId: -1, text: 'x' }],
  ['bad reaction action', { v: 1, kind: 'reaction', messageId: 1, emoji: '👍', action: 'toggle' }],
  ['emoji too long', { v: 1, kind: 'reaction', messageId: 1, emoji: 'x'.repeat(65), action: 'add' }],
  ['unknown type', { ...base, type: 'EXE', mime: 'application/x-msdownload' }],
  ['mime not the type\'s', { ...base, mime: 'text/html' }],
  ['upper-case blobId', { ...base, blobId: 'AB'.repeat(32) }],
  ['short blobId', { ...base, blobId: 'ab' }],
  ['31-byte key', { ...base, key: new Uint8Array(31) }],
  ['key as string', { ...base, key: 'k'.repeat(32) }],
  ['16-byte nonce', { ...base, nonce: new Uint8Array(16) }],
  ['size over 15 MiB', { ...base, size: limits.attachmentPlainBytesMax + 1 }],
  ['size as string', { ...base, size: '1' }],
  ['slash in name', { ...base, name: '../../etc/passwd' }],
  ['backslash in name', { ...base, name: 'a\\b.pdf' }],
  ['control char in name', { ...base, name: 'a\nb.pdf' }],
  ['bidi override in name', { ...base, name: 'invoice\u202Efdp.exe' }],
  ['dot-dot name', { ...base, name: '..' }],
  ['empty name', { ...base, name: '' }],
  ['name too long', { ...base, name: 'x'.repeat(256) }],
]

t.test('strict decode', async (t) => {
  for (const [why, value] of bad) {
    t.throws(() => decodeContent(encode(value as never)), { code: ErrorCode.schema }, why)
  }
  t.throws(() => decodeContent(encode(['text', 'x'])), { code: ErrorCode.schema }, 'not a map')
  // {"v":1,"text":"x","kind":"text"}: "text" before "kind" is not the canonical key order
  const noncanonical = new Uint8Array([0xa3, 0x61, 0x76, 0x01, 0x64, 0x74, 0x65, 0x78, 0x74, 0x61, 0x78, 0x64, 0x6b, 0x69, 0x6e, 0x64, 0x64, 0x74, 0x65, 0x78, 0x74])
  t.same(decodeContent(encode({ v: 1, text: 'x', kind: 'text' })), { kind: 'text', text: 'x' }, 'the canonical form of the same map decodes')
  t.throws(() => decodeContent(noncanonical), { code: ErrorCode.schema }, 'non-canonical key order')
  t.throws(() => decodeContent(new Uint8Array([...encodeContent(good[0]!), 0])), { code: ErrorCode.schema }, 'trailing byte')
  t.throws(() => encodeContent({ kind: 'text', text: '' }), { code: ErrorCode.schema }, 'encode refuses what decode refuses')
})
