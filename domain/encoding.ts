// Byte ↔ text encodings used everywhere: base64url (RFC 4648 §5, no padding), hex, UTF-8.
// Browser and Node alike (Node's Buffer only as a faster path where it exists). Decoders
// accept exactly one spelling per byte string: a second spelling of the same bytes could slip
// past a uniqueness check or change a hash.
import { CodecError } from './errors.ts'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const DECODE = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0))
// Long texts are written as ASCII bytes and decoded into one flat string. Built by `+=`,
// a text is a rope of one node per step: a 4.8-kB MLS message's base64url held ≈ 85 kB of
// heap until something flattened it (a load generator holding 72,000 ran out of its 4-GB
// heap) and took ≈ 0.7 ms to build, against ≈ 36 µs. Short ones (hashes, ids) stay with
// `+=`, which is faster below a few dozen characters and whose small ropes are flattened
// the first time they are compared or used as a key.
const textDecoder = new TextDecoder()
const shortChars = 64
// One reused buffer for the bytes (a fresh off-heap one per call cost ≈ 1 µs); texts longer
// than it get their own.
const scratch = new Uint8Array(16 * 1024)
function asciiBuffer(length: number): Uint8Array {
  return length <= scratch.length ? scratch.subarray(0, length) : new Uint8Array(length)
}

/** RFC 4648 §5 base64url without padding (§3.2). */
export function toBase64url(bytes: Uint8Array): string {
  const rest = bytes.length % 3
  const length = ((bytes.length - rest) / 3) * 4 + (rest === 0 ? 0 : rest + 1)
  if (length <= shortChars) return shortBase64url(bytes)
  const out = asciiBuffer(length)
  let o = 0
  let i = 0
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out[o++] = ALPHABET_CODES[n >>> 18]!
    out[o++] = ALPHABET_CODES[(n >>> 12) & 63]!
    out[o++] = ALPHABET_CODES[(n >>> 6) & 63]!
    out[o++] = ALPHABET_CODES[n & 63]!
  }
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0)
    out[o++] = ALPHABET_CODES[n >>> 18]!
    out[o++] = ALPHABET_CODES[(n >>> 12) & 63]!
    if (rest === 2) out[o++] = ALPHABET_CODES[(n >>> 6) & 63]!
  }
  return textDecoder.decode(out)
}

function shortBase64url(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]!
  }
  return out
}

// Node's Buffer decodes base64url natively: 1.2 µs for a 3.3-kB ML-DSA signature against
// 9.4 µs below, and the check 1.2 µs against 5.9 µs (a replica decodes and checks every
// command's signature). It is lenient (it skips characters outside the alphabet, takes padding,
// ignores trailing bits), so its bytes count only when they encode back to the very same text,
// which holds for exactly the canonical spellings. Short texts stay in JavaScript, faster there.
type NativeBase64 = { from(text: string, encoding: 'base64url'): Uint8Array & { toString(encoding: 'base64url'): string } }
const nativeBuffer = (globalThis as { Buffer?: NativeBase64 }).Buffer
const nativeFromChars = 256

/** The canonical decoding of `text` natively, or null when it is not canonical base64url. */
function nativeBase64url(native: NativeBase64, text: string): Uint8Array | null {
  const decoded = native.from(text, 'base64url')
  return decoded.toString('base64url') === text ? decoded : null
}

/**
 * Whether fromBase64url would accept `text`: the alphabet only, no length of 1 mod 4, the
 * unused trailing bits zero. (The schemas' `format: 'base64url'`; a 4-kB signature is
 * checked in a few µs, where the equivalent regular expression took tens.)
 */
export function isBase64url(text: string): boolean {
  if (nativeBuffer !== undefined && text.length >= nativeFromChars) return nativeBase64url(nativeBuffer, text) !== null
  const rest = text.length % 4
  if (rest === 1) return false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 128 || DECODE[code]! < 0) return false
  }
  if (rest === 0) return true
  const last = DECODE[text.charCodeAt(text.length - 1)]!
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0
}

function sextet(text: string, index: number, name: string): number {
  const code = text.charCodeAt(index)
  const value = code < 128 ? DECODE[code]! : -1
  if (value < 0) {
    throw new CodecError(`${name}: not base64url: character ${JSON.stringify(text[index])} at ${index}`, { field: name })
  }
  return value
}

/**
 * Strict base64url: only the RFC 4648 §5 alphabet, no padding, no whitespace, no length
 * of 1 mod 4, and the unused trailing bits zero (§3.5), so every byte string has one text.
 */
export function fromBase64url(text: string, name = 'value'): Uint8Array {
  if (typeof text !== 'string') throw new CodecError(`${name}: expected a base64url string, got ${typeof text}`, { field: name })
  if (nativeBuffer !== undefined && text.length >= nativeFromChars) {
    const decoded = nativeBase64url(nativeBuffer, text)
    // A copy: Buffer hands out slices of a shared pool. Not canonical: decoded below, which names the fault.
    if (decoded !== null) return new Uint8Array(decoded)
  }
  const rest = text.length % 4
  if (rest === 1) throw new CodecError(`${name}: not base64url: length ${text.length} is 1 mod 4`, { field: name })
  const out = new Uint8Array(Math.floor(text.length / 4) * 3 + (rest === 0 ? 0 : rest - 1))
  let o = 0
  let i = 0
  for (; i + 4 <= text.length; i += 4) {
    const n =
      (sextet(text, i, name) << 18) | (sextet(text, i + 1, name) << 12) | (sextet(text, i + 2, name) << 6) | sextet(text, i + 3, name)
    out[o++] = n >>> 16
    out[o++] = (n >>> 8) & 0xff
    out[o++] = n & 0xff
  }
  if (rest === 0) return out
  const a = sextet(text, i, name)
  const b = sextet(text, i + 1, name)
  const c = rest === 3 ? sextet(text, i + 2, name) : 0
  const unused = rest === 2 ? b & 0x0f : c & 0x03
  if (unused !== 0) throw new CodecError(`${name}: not canonical base64url: non-zero trailing bits`, { field: name })
  out[o++] = (a << 2) | (b >>> 4)
  if (rest === 3) out[o++] = ((b & 0x0f) << 4) | (c >>> 2)
  return out
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0))

/** Lower-case hex (long ones as one flat string, as toBase64url). */
export function toHex(bytes: Uint8Array): string {
  if (bytes.length * 2 <= shortChars) {
    let s = ''
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!]!
    return s
  }
  const out = asciiBuffer(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = HEX_CODES[bytes[i]! >>> 4]!
    out[2 * i + 1] = HEX_CODES[bytes[i]! & 15]!
  }
  return textDecoder.decode(out)
}

function nibble(text: string, index: number, name: string): number {
  const c = text.charCodeAt(index)
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  throw new CodecError(`${name}: not hex: character ${JSON.stringify(text[index])} at ${index}`, { field: name })
}

/** Hex of either case (test vectors are upper case); no prefix, no separators, even length. */
export function fromHex(text: string, name = 'value'): Uint8Array {
  if (typeof text !== 'string') throw new CodecError(`${name}: expected a hex string, got ${typeof text}`, { field: name })
  if (text.length % 2 !== 0) throw new CodecError(`${name}: not hex: odd length ${text.length}`, { field: name })
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = (nibble(text, 2 * i, name) << 4) | nibble(text, 2 * i + 1, name)
  return out
}

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text)
}

/** Rejects ill-formed UTF-8 instead of substituting U+FFFD. */
export function utf8Decode(bytes: Uint8Array, name = 'value'): string {
  try {
    return strictDecoder.decode(bytes)
  } catch {
    throw new CodecError(`${name}: not well-formed UTF-8`, { field: name })
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
