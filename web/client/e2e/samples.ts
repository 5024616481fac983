// Real, visible sample files for the browser tests: a 96×64 PNG (a colour gradient with a
// diagonal stripe: easy to spot in screenshots) and a small valid PDF whose text is a
// marker the plaintext scan looks for.
import { crc32, deflateSync } from 'node:zlib'

const be32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
function chunk(type: string, data: Buffer): Buffer {
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
  return Buffer.concat([be32(data.length), td, be32(crc32(td))])
}

export function gradientPng(w = 96, h = 64): Uint8Array {
  const rows: Buffer[] = []
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3)
    for (let x = 0; x < w; x++) {
      const stripe = Math.abs(x - y * 1.5) < 6
      row[1 + x * 3] = stripe ? 255 : Math.round((x / w) * 255)
      row[2 + x * 3] = stripe ? 255 : Math.round((y / h) * 200)
      row[3 + x * 3] = stripe ? 255 : 160
    }
    rows.push(row)
  }
  const ihdr = Buffer.concat([be32(w), be32(h), Buffer.from([8, 2, 0, 0, 0])])
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]))
}

export const pdfMarker = 'ZixtQuarterlyBudgetSecret-7Q41'

export function samplePdf(marker = pdfMarker): Uint8Array {
  const content = `BT /F1 18 Tf 40 100 Td (${marker}) Tj ET`
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ]
  let out = '%PDF-1.4\n'
  const offsets: number[] = []
  objs.forEach((o, i) => {
    offsets.push(out.length)
    out += `${i + 1} 0 obj\n${o}\nendobj\n`
  })
  const xref = out.length
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return new TextEncoder().encode(out)
}

export function readPdfSample(): Uint8Array {
  return samplePdf()
}
