// What a file is, judged by its bytes (never by its name or declared type). Run on
// the plaintext after decryption: a sender can declare anything. Binary signatures
// are tried first; TXT is the fallback for valid UTF-8 without NULs.
import { AttachmentType } from '../../../../domain/message/commands.ts'

export { AttachmentType }

/** The MIME type each attachment type is served and downloaded as. */
export const mimeOf: Readonly<Record<AttachmentType, string>> = {
  PNG: 'image/png',
  JPEG: 'image/jpeg',
  GIF: 'image/gif',
  BMP: 'image/bmp',
  PDF: 'application/pdf',
  TXT: 'text/plain; charset=utf-8',
  DOC: 'application/msword',
  DOCX: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
}

/** Shown inline (images) rather than offered as a download. */
export function isImage(type: AttachmentType): boolean {
  return type === 'PNG' || type === 'JPEG' || type === 'GIF' || type === 'BMP'
}

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false
  return true
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0))
const u16 = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8)
const u32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] // PNG spec §5.2
const JPEG = [0xff, 0xd8, 0xff] // SOI marker + first marker's 0xFF
const CFB = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] // [MS-CFB] §2.2 header signature
const ZIP_LOCAL = [0x50, 0x4b, 0x03, 0x04]
const BMP_DIB_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]) // BITMAPCOREHEADER .. BITMAPV5HEADER

function isBmp(b: Uint8Array): boolean {
  return startsWith(b, ascii('BM')) && b.length >= 26 && BMP_DIB_SIZES.has(u32(b, 14)) && u32(b, 10) <= b.length
}

/** OLE compound file holding a "WordDocument" stream (its directory stores names in UTF-16LE). */
function isDoc(b: Uint8Array): boolean {
  if (!startsWith(b, CFB) || b.length < 512) return false
  const name = ascii('WordDocument').flatMap((c) => [c, 0])
  const limit = Math.min(b.length, 16 * 1024 * 1024)
  outer: for (let i = 512; i + name.length <= limit; i++) {
    for (let j = 0; j < name.length; j++) if (b[i + j] !== name[j]) continue outer
    return true
  }
  return false
}

/** File names from a ZIP's central directory (APPNOTE 4.3.12, 4.3.16); undefined if it is not a sane ZIP. */
export function zipEntryNames(b: Uint8Array): string[] | undefined {
  if (!startsWith(b, ZIP_LOCAL)) return undefined
  const EOCD = 0x06054b50
  let eocd = -1
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (u32(b, i) === EOCD) { eocd = i; break }
  }
  if (eocd < 0) return undefined
  const count = u16(b, eocd + 10)
  let p = u32(b, eocd + 16)
  const names: string[] = []
  const dec = new TextDecoder('utf-8', { fatal: false })
  for (let n = 0; n < count; n++) {
    if (p + 46 > eocd || u32(b, p) !== 0x02014b50) return undefined
    const nameLen = u16(b, p + 28)
    const next = p + 46 + nameLen + u16(b, p + 30) + u16(b, p + 32)
    if (next > eocd) return undefined
    names.push(dec.decode(b.subarray(p + 46, p + 46 + nameLen)))
    p = next
  }
  return names
}

function isDocx(b: Uint8Array): boolean {
  const names = zipEntryNames(b)
  return names !== undefined && names.includes('[Content_Types].xml') && names.some((n) => n.startsWith('word/'))
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function isText(b: Uint8Array): boolean {
  if (b.includes(0)) return false
  try {
    utf8Strict.decode(b)
    return true
  } catch {
    return false
  }
}

/** The attachment type of `bytes`, or undefined when it is none of the allowed ones. */
export function detectFileType(bytes: Uint8Array): AttachmentType | undefined {
  if (startsWith(bytes, PNG)) return 'PNG'
  if (startsWith(bytes, JPEG)) return 'JPEG'
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'GIF'
  if (isBmp(bytes)) return 'BMP'
  if (startsWith(bytes, ascii('%PDF-'))) return 'PDF'
  if (startsWith(bytes, CFB)) return isDoc(bytes) ? 'DOC' : undefined
  if (startsWith(bytes, ZIP_LOCAL)) return isDocx(bytes) ? 'DOCX' : undefined
  return isText(bytes) ? 'TXT' : undefined
}
