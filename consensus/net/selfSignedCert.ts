// A throwaway self-signed X.509 certificate for TLS 1.3, built with node:crypto and a
// minimal DER writer (RFC 5280 §4.1; Ed25519 per RFC 8410), so a fresh machine needs no
// openssl CLI and no extra package. The certificate authenticates nothing on its own:
// peers are authenticated by the channel-binding step in tls.ts (ML-DSA-65 signature over
// the TLS exporter, checked against genesis). It only lets TLS run its handshake.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

function len(n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff)
  return [0x80 | out.length, ...out]
}

function tlv(tag: number, body: Uint8Array): Uint8Array {
  return Uint8Array.from([tag, ...len(body.length), ...body])
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((s, p) => s + p.length, 0)
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, cat(...parts))
const ED25519_OID = Uint8Array.from([0x06, 0x03, 0x2b, 0x65, 0x70]) // 1.3.101.112
const CN_OID = Uint8Array.from([0x06, 0x03, 0x55, 0x04, 0x03]) // 2.5.4.3

function name(cn: string): Uint8Array {
  const utf8 = tlv(0x0c, new TextEncoder().encode(cn))
  return seq(tlv(0x31, seq(CN_OID, utf8)))
}

/** GeneralizedTime (RFC 5280 §4.1.2.5.2), valid for any year. */
function time(d: Date): Uint8Array {
  const iso = d.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const s = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z'
  return tlv(0x18, new TextEncoder().encode(s))
}

/**
 * A DER INTEGER body for a serial number: positive and minimal (X.690 §8.3.2: no leading
 * 0x00 unless the next byte has its high bit set). Random serials that start with 0x00 used
 * to be written as is, and OpenSSL refused about one certificate in 500 ("illegal padding"),
 * so a replica now and then could not start.
 */
export function derPositiveInteger(bytes: Uint8Array): Uint8Array {
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++
  const v = bytes.subarray(i)
  if (v.length === 0 || (v.length === 1 && v[0] === 0)) throw new Error('serial: must be a positive number')
  return v[0]! & 0x80 ? cat(Uint8Array.of(0), v) : v
}

export type SelfSignedCert = { readonly certPem: string; readonly keyPem: string; readonly privateKey: KeyObject }

export function selfSignedCert(commonName: string, serial: Uint8Array): SelfSignedCert {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
  const serialBody = derPositiveInteger(serial)
  const now = Date.now()
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Uint8Array.of(2))), // [0] version v3
    tlv(0x02, serialBody),
    seq(ED25519_OID),
    name(commonName),
    seq(time(new Date(now - 3600_000)), time(new Date(now + 10 * 365 * 24 * 3600_000))),
    name(commonName),
    spki,
  )
  const signature = new Uint8Array(sign(null, tbs, privateKey))
  const cert = seq(tbs, seq(ED25519_OID), tlv(0x03, cat(Uint8Array.of(0), signature)))
  const b64 = Buffer.from(cert).toString('base64').replace(/.{64}/g, '$&\n')
  const certPem = `-----BEGIN CERTIFICATE-----\n${b64}${b64.length % 65 === 0 ? '' : '\n'}-----END CERTIFICATE-----\n`
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  return { certPem, keyPem, privateKey }
}
