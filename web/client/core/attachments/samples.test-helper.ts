// Minimal but structurally real files of each attachment type, for tests.
import { crc32 } from 'node:zlib'

const te = new TextEncoder()
const cat = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
const le16 = (n: number) => [n & 0xff, (n >>> 8) & 0xff]
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]
const be32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const td = cat(te.encode(type), data)
  return cat(be32(data.length), td, be32(crc32(td)))
}

/** A 1×1 RGBA PNG (zlib stream of one filtered scanline, stored). */
export function png(): Uint8Array {
  const ihdr = cat(be32(1), be32(1), [8, 6, 0, 0, 0])
  const raw = [0, 255, 0, 0, 255] // filter 0 + one red pixel
  const adler = (() => { let a = 1, b = 0; for (const x of raw) { a = (a + x) % 65521; b = (b + a) % 65521 } return (b << 16) | a })()
  const idat = cat([0x78, 0x01, 0x01], le16(raw.length), le16(~raw.length & 0xffff), raw, be32(adler >>> 0))
  return cat([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0)))
}

export function jpeg(): Uint8Array {
  return cat([0xff, 0xd8, 0xff, 0xe0], be32(0).slice(2), te.encode('JFIF\0'), new Uint8Array(64), [0xff, 0xd9])
}

export function gif(): Uint8Array {
  return cat(te.encode('GIF89a'), le16(1), le16(1), [0x80, 0, 0], [0, 0, 0, 255, 255, 255], [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0], [2, 2, 0x44, 1, 0], [0x3b])
}

/** A 1×1 24-bit BMP: BITMAPFILEHEADER + BITMAPINFOHEADER (40) + one padded row. */
export function bmp(): Uint8Array {
  const pixels = [0, 0, 255, 0]
  const size = 14 + 40 + pixels.length
  return cat(te.encode('BM'), le32(size), le32(0), le32(54), le32(40), le32(1), le32(1), le16(1), le16(24), le32(0), le32(pixels.length), le32(2835), le32(2835), le32(0), le32(0), pixels)
}

export function pdf(): Uint8Array {
  return te.encode('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')
}

export function txt(): Uint8Array {
  return te.encode('Meeting notes — Grüße, 日本語, emoji 🎉\nline two\n')
}

/** An OLE compound file whose directory names the given stream (UTF-16LE), like Word's "WordDocument". */
export function cfb(streamName = 'WordDocument'): Uint8Array {
  const header = new Uint8Array(512)
  header.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])
  header.set([0x3e, 0x00, 0x03, 0x00, 0xfe, 0xff, 0x09, 0x00], 24) // minor/major version, byte order, sector shift
  const dir = new Uint8Array(512)
  const root = [...'Root Entry'].flatMap((c) => [c.charCodeAt(0), 0])
  dir.set(root, 0)
  const name = [...streamName].flatMap((c) => [c.charCodeAt(0), 0])
  dir.set(name, 128)
  return cat(header, dir)
}

/** A ZIP with stored entries; Office Open XML packages are such ZIPs. */
export function zip(entries: Record<string, string>): Uint8Array {
  const locals: Uint8Array[] = []
  const centrals: Uint8Array[] = []
  let offset = 0
  for (const [name, body] of Object.entries(entries)) {
    const n = te.encode(name)
    const d = te.encode(body)
    const crc = crc32(d)
    const common = cat(le16(20), le16(0), le16(0), le16(0), le16(0), le32(crc), le32(d.length), le32(d.length), le16(n.length), le16(0))
    const local = cat(le32(0x04034b50), common, n, d)
    centrals.push(cat(le32(0x02014b50), le16(20), common, le16(0), le16(0), le16(0), le32(0), le32(offset), n))
    locals.push(local)
    offset += local.length
  }
  const cd = cat(...centrals)
  const eocd = cat(le32(0x06054b50), le16(0), le16(0), le16(centrals.length), le16(centrals.length), le32(cd.length), le32(offset), le16(0))
  return cat(...locals, cd, eocd)
}

export function docx(): Uint8Array {
  return zip({
    '[Content_Types].xml': '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    '_rels/.rels': '<?xml version="1.0"?><Relationships/>',
    'word/document.xml': '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>',
  })
}
