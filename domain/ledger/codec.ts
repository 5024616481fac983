// Canonical encoding: a strict subset of CBOR (RFC 8949) with the core
// deterministic encoding rules of §4.2.1. Specified in domain/ledger/CODEC.md.
// One value has exactly one encoding; decode() rejects every other byte string.
import { CodecError } from '../errors.ts'
import { limits } from '../limits.ts'

export type Value =
  | null
  | boolean
  | number // safe integers only
  | string
  | Uint8Array
  | readonly Value[]
  | { readonly [key: string]: Value }

const MT_UINT = 0
const MT_NEGINT = 1
const MT_BYTES = 2
const MT_TEXT = 3
const MT_ARRAY = 4
const MT_MAP = 5
const MT_SIMPLE = 7
const SIMPLE_FALSE = 20
const SIMPLE_TRUE = 21
const SIMPLE_NULL = 22

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class Writer {
  private buf = new Uint8Array(256)
  length = 0
  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }
  byte(b: number): void {
    this.ensure(1)
    this.buf[this.length++] = b
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  head(major: number, n: number): void {
    const m = major << 5
    if (n < 24) this.byte(m | n)
    else if (n < 0x100) { this.byte(m | 24); this.byte(n) }
    else if (n < 0x10000) { this.byte(m | 25); this.byte(n >>> 8); this.byte(n & 0xff) }
    else if (n < 0x1_0000_0000) {
      this.byte(m | 26)
      this.byte((n >>> 24) & 0xff); this.byte((n >>> 16) & 0xff); this.byte((n >>> 8) & 0xff); this.byte(n & 0xff)
    } else {
      this.byte(m | 27)
      const hi = Math.floor(n / 0x1_0000_0000)
      const lo = n >>> 0
      this.byte((hi >>> 24) & 0xff); this.byte((hi >>> 16) & 0xff); this.byte((hi >>> 8) & 0xff); this.byte(hi & 0xff)
      this.byte((lo >>> 24) & 0xff); this.byte((lo >>> 16) & 0xff); this.byte((lo >>> 8) & 0xff); this.byte(lo & 0xff)
    }
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

/** Byte-wise lexicographic order of the encoded keys (RFC 8949 §4.2.1). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

function encodeKey(key: string): Uint8Array {
  const w = new Writer()
  const b = utf8.encode(key)
  w.head(MT_TEXT, b.length)
  w.bytes(b)
  return w.result()
}

function encodeInto(w: Writer, v: Value, path: string, depth: number): void {
  if (depth > limits.codecDepthMax) throw new CodecError(`${path}: nesting deeper than ${limits.codecDepthMax}`, { path })
  if (v === null) return w.byte((MT_SIMPLE << 5) | SIMPLE_NULL)
  if (v === true) return w.byte((MT_SIMPLE << 5) | SIMPLE_TRUE)
  if (v === false) return w.byte((MT_SIMPLE << 5) | SIMPLE_FALSE)
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new CodecError(`${path}: ${v} is not a safe integer`, { path })
    if (v >= 0) return w.head(MT_UINT, v)
    return w.head(MT_NEGINT, -1 - v)
  }
  if (typeof v === 'string') {
    if (!v.isWellFormed()) throw new CodecError(`${path}: string is not well-formed Unicode`, { path })
    const b = utf8.encode(v)
    if (b.length > limits.codecStringBytesMax) throw new CodecError(`${path}: string of ${b.length} bytes exceeds ${limits.codecStringBytesMax}`, { path })
    w.head(MT_TEXT, b.length)
    return w.bytes(b)
  }
  if (v instanceof Uint8Array) {
    if (v.length > limits.codecStringBytesMax) throw new CodecError(`${path}: ${v.length} bytes exceeds ${limits.codecStringBytesMax}`, { path })
    w.head(MT_BYTES, v.length)
    return w.bytes(v)
  }
  if (Array.isArray(v)) {
    const arr = v as readonly Value[]
    if (arr.length > limits.codecItemsMax) throw new CodecError(`${path}: ${arr.length} items exceeds ${limits.codecItemsMax}`, { path })
    w.head(MT_ARRAY, arr.length)
    for (let i = 0; i < arr.length; i++) encodeInto(w, arr[i]!, `${path}[${i}]`, depth + 1)
    return
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const entries: [Uint8Array, string][] = []
    for (const key of Object.keys(v)) {
      if ((v as Record<string, Value>)[key] === undefined) continue // absent optional field
      entries.push([encodeKey(key), key])
    }
    if (entries.length > limits.codecItemsMax) throw new CodecError(`${path}: ${entries.length} keys exceeds ${limits.codecItemsMax}`, { path })
    entries.sort((a, b) => compareBytes(a[0], b[0]))
    w.head(MT_MAP, entries.length)
    for (const [kb, key] of entries) {
      w.bytes(kb)
      encodeInto(w, (v as Record<string, Value>)[key]!, `${path}.${key}`, depth + 1)
    }
    return
  }
  throw new CodecError(`${path}: unsupported value of type ${typeof v}`, { path })
}

export function encode(value: Value): Uint8Array {
  const w = new Writer()
  encodeInto(w, value, '$', 0)
  return w.result()
}

class Reader {
  pos = 0
  items = 0
  readonly data: Uint8Array
  constructor(data: Uint8Array) {
    this.data = data
  }
  fail(message: string): never {
    throw new CodecError(`offset ${this.pos}: ${message}`, { offset: this.pos })
  }
  byte(): number {
    if (this.pos >= this.data.length) this.fail('unexpected end of input')
    return this.data[this.pos++]!
  }
  take(n: number): Uint8Array {
    if (n > this.data.length - this.pos) this.fail(`length ${n} runs past the end of input`)
    const out = this.data.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  /** Reads the argument of a head, enforcing the shortest form. */
  arg(info: number): number {
    if (info < 24) return info
    let n: number
    let min: number
    if (info === 24) { n = this.byte(); min = 24 }
    else if (info === 25) { n = (this.byte() << 8) | this.byte(); min = 0x100 }
    else if (info === 26) { n = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte(); min = 0x10000 }
    else if (info === 27) {
      const hi = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte()
      const lo = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte()
      if (hi > 0x1f_ffff) this.fail('integer exceeds 2^53 - 1')
      n = hi * 0x1_0000_0000 + lo
      min = 0x1_0000_0000
    } else return this.fail(`indefinite or reserved length (additional info ${info})`)
    if (n < min) this.fail(`non-shortest encoding of ${n}`)
    return n
  }
}

function decodeAt(r: Reader, depth: number): Value {
  if (depth > limits.codecDepthMax) r.fail(`nesting deeper than ${limits.codecDepthMax}`)
  if (++r.items > limits.codecItemsMax) r.fail(`more than ${limits.codecItemsMax} items`)
  const start = r.pos
  const ib = r.byte()
  const major = ib >> 5
  const info = ib & 0x1f
  switch (major) {
    case MT_UINT:
      return r.arg(info)
    case MT_NEGINT: {
      const n = r.arg(info)
      if (n > Number.MAX_SAFE_INTEGER - 1) r.fail('negative integer below -(2^53 - 1)')
      return -1 - n
    }
    case MT_BYTES: {
      const n = r.arg(info)
      if (n > limits.codecStringBytesMax) r.fail(`byte string of ${n} bytes exceeds limit`)
      return r.take(n).slice()
    }
    case MT_TEXT: {
      const n = r.arg(info)
      if (n > limits.codecStringBytesMax) r.fail(`text string of ${n} bytes exceeds limit`)
      const bytes = r.take(n)
      try {
        return utf8Strict.decode(bytes)
      } catch {
        return r.fail('text string is not valid UTF-8')
      }
    }
    case MT_ARRAY: {
      const n = r.arg(info)
      if (n > limits.codecItemsMax) r.fail(`array of ${n} items exceeds limit`)
      const out: Value[] = []
      for (let i = 0; i < n; i++) out.push(decodeAt(r, depth + 1))
      return out
    }
    case MT_MAP: {
      const n = r.arg(info)
      if (n > limits.codecItemsMax) r.fail(`map of ${n} entries exceeds limit`)
      const out: [string, Value][] = []
      let prevKey: Uint8Array | null = null
      for (let i = 0; i < n; i++) {
        const keyStart = r.pos
        const kb = r.data[r.pos]
        if (kb === undefined || kb >> 5 !== MT_TEXT) r.fail('map key is not a text string')
        const key = decodeAt(r, depth + 1) as string
        const keyBytes = r.data.subarray(keyStart, r.pos)
        if (prevKey !== null && compareBytes(prevKey, keyBytes) >= 0) {
          r.pos = keyStart
          r.fail(`map key ${JSON.stringify(key)} is duplicate or out of canonical order`)
        }
        prevKey = keyBytes
        out.push([key, decodeAt(r, depth + 1)])
      }
      // fromEntries defines own data properties, so a key like "__proto__" stays data
      return Object.fromEntries(out)
    }
    case MT_SIMPLE:
      if (info === SIMPLE_FALSE) return false
      if (info === SIMPLE_TRUE) return true
      if (info === SIMPLE_NULL) return null
      r.pos = start
      return r.fail(`unsupported simple value or float (initial byte 0x${ib.toString(16)})`)
    default:
      r.pos = start
      return r.fail(`unsupported major type ${major} (tags are not allowed)`)
  }
}

export function decode(bytes: Uint8Array): Value {
  const r = new Reader(bytes)
  const v = decodeAt(r, 0)
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes`)
  return v
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0
}
