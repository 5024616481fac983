import t from 'tap'
import { nativeCrypto } from '../../../../domain/crypto/native.ts'
import { nobleCrypto } from '../../../../domain/crypto/noble.ts'
import type { CryptoFacade } from '../../../../domain/crypto/types.ts'
import { toHex } from '../../../../domain/encoding.ts'
import { limits } from '../../../../domain/limits.ts'
import { AttachmentErrorCode, blobBytesFor, decryptAttachment, encryptAttachment, type AttachmentRef } from './attachment.ts'
import { detectFileType, mimeOf, type AttachmentType } from './fileType.ts'
import * as samples from './samples.test-helper.ts'

const files: Record<AttachmentType, Uint8Array> = {
  PNG: samples.png(),
  JPEG: samples.jpeg(),
  GIF: samples.gif(),
  BMP: samples.bmp(),
  PDF: samples.pdf(),
  TXT: samples.txt(),
  DOC: samples.cfb('WordDocument'),
  DOCX: samples.docx(),
}

t.test('content sniffing recognises each allowed type and nothing else', async (t) => {
  for (const [type, bytes] of Object.entries(files)) t.equal(detectFileType(bytes), type, type)
  t.equal(detectFileType(samples.cfb('Workbook')), undefined, 'an OLE file that is not Word (XLS) is refused')
  t.equal(detectFileType(samples.zip({ '[Content_Types].xml': '<Types/>', 'xl/workbook.xml': '<x/>' })), undefined, 'an OOXML package that is not Word (XLSX) is refused')
  t.equal(detectFileType(samples.zip({ 'word/document.xml': '<x/>' })), undefined, 'a ZIP without [Content_Types].xml is not DOCX')
  t.equal(detectFileType(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3])), undefined, 'a truncated ZIP')
  t.equal(detectFileType(new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 3, 0, 0, 0])), undefined, 'a Windows executable (NUL bytes, not text)')
  t.equal(detectFileType(new Uint8Array([0x68, 0x69, 0xff, 0xfe])), undefined, 'invalid UTF-8 is not TXT')
  t.equal(detectFileType(new TextEncoder().encode('a\u0000b')), undefined, 'text with NUL is not TXT')
  t.equal(detectFileType(new TextEncoder().encode('BMP is a format\n')), 'TXT', '"BM" text is not mistaken for a bitmap')
  t.equal(detectFileType(new Uint8Array(0)), 'TXT', 'an empty file is an empty text file')
})

for (const [backend, enc, dec] of [
  ['noble → native', nobleCrypto, nativeCrypto],
  ['native → noble', nativeCrypto, nobleCrypto],
] as const) {
  t.test(`round trip of every type (${backend})`, async (t) => {
    for (const [type, bytes] of Object.entries(files) as [AttachmentType, Uint8Array][]) {
      const e = encryptAttachment(enc, { bytes, name: `file.${type.toLowerCase()}`, type })
      t.equal(e.blob.length, blobBytesFor(bytes.length), `${type}: blob is plaintext + tag`)
      t.equal(e.blobId, toHex(nativeCrypto.sha256(e.blob)), `${type}: blobId = hex sha256(blob)`)
      t.equal(e.ref.size, bytes.length)
      t.equal(e.ref.mime, mimeOf[type])
      t.equal(e.ref.key.length, 32)
      t.equal(e.ref.nonce.length, 12)
      t.notOk(Buffer.from(e.blob).includes(Buffer.from(bytes.subarray(0, 16))), `${type}: plaintext does not show in the blob`)
      const d = decryptAttachment(dec, e.blob, e.ref)
      t.same(d.bytes, bytes, `${type}: decrypts byte-identical`)
      t.equal(d.type, type)
    }
  })
}

t.test('every file gets a fresh key and nonce', async (t) => {
  const a = encryptAttachment(nobleCrypto, { bytes: files.TXT, name: 'a.txt', type: 'TXT' })
  const b = encryptAttachment(nobleCrypto, { bytes: files.TXT, name: 'a.txt', type: 'TXT' })
  t.notSame(a.ref.key, b.ref.key)
  t.notSame(a.ref.nonce, b.ref.nonce)
  t.not(a.blobId, b.blobId, 'the same file uploads as unrelated blobs')
})

t.test('tampering and wrong keys fail', async (t) => {
  const e = encryptAttachment(nobleCrypto, { bytes: files.PNG, name: 'pic.png', type: 'PNG' })
  for (let i of [0, Math.floor(e.blob.length / 2), e.blob.length - 1]) {
    const bad = e.blob.slice()
    bad[i]! ^= 0x01
    t.throws(() => decryptAttachment(nobleCrypto, bad, e.ref), { code: AttachmentErrorCode.blobMismatch }, `flipped byte ${i}: not the referenced blob`)
    // A server could not also change blobId (it is inside the MLS message); check the AEAD too.
    t.throws(() => decryptAttachment(nobleCrypto, bad, { ...e.ref, blobId: toHex(nobleCrypto.sha256(bad)) }), { code: AttachmentErrorCode.decryptFailed }, `flipped byte ${i}: AEAD fails`)
  }
  const otherKey = { ...e.ref, key: nobleCrypto.randomBytes(32) }
  t.throws(() => decryptAttachment(nobleCrypto, e.blob, otherKey), { code: AttachmentErrorCode.decryptFailed }, 'wrong key')
  t.throws(() => decryptAttachment(nobleCrypto, e.blob.subarray(1), e.ref), { code: AttachmentErrorCode.blobMismatch }, 'truncated blob')
  t.throws(() => decryptAttachment(nobleCrypto, e.blob, { ...e.ref, nonce: new Uint8Array(8) }), { code: AttachmentErrorCode.invalidArgument }, 'short nonce')
})

t.test('declared type is checked against the content', async (t) => {
  t.throws(() => encryptAttachment(nobleCrypto, { bytes: files.PNG, name: 'x.jpg', type: 'JPEG' }), { code: AttachmentErrorCode.typeMismatch }, 'sender: PNG declared JPEG')
  t.throws(() => encryptAttachment(nobleCrypto, { bytes: files.TXT, name: 'x.pdf', type: 'PDF' }), { code: AttachmentErrorCode.typeMismatch }, 'sender: TXT declared PDF')
  t.throws(() => encryptAttachment(nobleCrypto, { bytes: samples.cfb('Workbook'), name: 'x.doc', type: 'DOC' }), { code: AttachmentErrorCode.typeUnsupported }, 'sender: XLS declared DOC')
  // A malicious sender bypasses its own check: the receiver still refuses.
  const e = encryptAttachment(nobleCrypto, { bytes: files.DOCX, name: 'report.docx', type: 'DOCX' })
  const lying: AttachmentRef = { ...e.ref, type: 'PNG', mime: mimeOf.PNG }
  t.throws(() => decryptAttachment(nobleCrypto, e.blob, lying), { code: AttachmentErrorCode.typeMismatch }, 'receiver: DOCX declared PNG is refused after decryption')
  const exe = new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0, 4, 0])
  const sealedExe = (() => {
    const key = nobleCrypto.randomBytes(32)
    const nonce = nobleCrypto.randomBytes(12)
    const blob = nobleCrypto.aes256gcm.encrypt(key, nonce, exe, new TextEncoder().encode('zixt/attachment/v1'))
    return { blob, ref: { name: 'a.txt', mime: mimeOf.TXT, type: 'TXT' as const, blobId: toHex(nobleCrypto.sha256(blob)), key, nonce, size: exe.length } }
  })()
  t.throws(() => decryptAttachment(nobleCrypto, sealedExe.blob, sealedExe.ref), { code: AttachmentErrorCode.typeUnsupported }, 'receiver: an executable declared TXT is refused')
})

t.test('15 MiB limit is enforced before any encryption', async (t) => {
  let cryptoCalls = 0
  const spy: CryptoFacade = {
    ...nativeCrypto,
    randomBytes: (n) => { cryptoCalls++; return nativeCrypto.randomBytes(n) },
    aes256gcm: { ...nativeCrypto.aes256gcm, encrypt: (k, n, p, a) => { cryptoCalls++; return nativeCrypto.aes256gcm.encrypt(k, n, p, a) } },
  }
  const big = new Uint8Array(limits.attachmentPlainBytesMax + 1).fill(0x61)
  t.throws(() => encryptAttachment(spy, { bytes: big, name: 'big.txt', type: 'TXT' }), { code: AttachmentErrorCode.tooLarge }, 'one byte over 15 MiB')
  t.equal(cryptoCalls, 0, 'no key drawn, nothing encrypted')
  const max = big.subarray(0, limits.attachmentPlainBytesMax)
  const e = encryptAttachment(spy, { bytes: max, name: 'max.txt', type: 'TXT' })
  t.equal(e.ref.size, 15 * 1024 * 1024, 'exactly 15 MiB is accepted')
  t.ok(cryptoCalls > 0)
  t.throws(() => decryptAttachment(nativeCrypto, e.blob, { ...e.ref, size: limits.attachmentPlainBytesMax + 1 }), { code: AttachmentErrorCode.blobMismatch }, 'a ref claiming more than 15 MiB is refused')
})
