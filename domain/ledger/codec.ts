// Canonical encoding: a strict subset of CBOR (RFC 8949) with the core
// deterministic encoding rules of §4.2.1. Specified in domain/ledger/CODEC.md.
// One value has exactly one encoding; decode() rejects every other byte string,
// and encode() refuses every value decode() would refuse (same limits), so
// decode(encode(v)) never fails.
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

/** Per-call limits. Blocks carry many more items than a command, so they pass their own itemsMax. */
export type CodecOptions = { readonly itemsMax?: number }

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
const TWO_32 = 0x1_0000_0000

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// encode() writes into one reused scratch buffer and copies the result out:
// allocating (and zero-filling) a growing buffer per call dominated the cost of
// encoding large blocks. A nested encode (e.g. from a getter) gets its own buffer.
let scratch: Uint8Array | null = new Uint8Array(64 * 1024)
const SCRATCH_KEEP_BYTES = 16 * 1024 * 1024

class Writer {
  private buf: Uint8Array
  private readonly ownsScratch: boolean
  length = 0
  items = 0
  readonly itemsMax: number
  constructor(itemsMax: number) {
    this.itemsMax = itemsMax
    this.ownsScratch = scratch !== null
    this.buf = scratch ?? new Uint8Array(256)
    scratch = null
  }
  /** Copies the encoding out and returns the scratch buffer for the next call. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.length)
    this.release()
    return out
  }
  release(): void {
    if (this.ownsScratch) scratch = this.buf.length <= SCRATCH_KEEP_BYTES ? this.buf : new Uint8Array(64 * 1024)
  }
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
  /** RFC 8949 §4.2.1: the argument in the shortest form that holds it. */
  head(major: number, n: number): void {
    this.ensure(9)
    const m = major << 5
    const b = this.buf
    let p = this.length
    if (n < 24) b[p++] = m | n
    else if (n < 0x100) { b[p++] = m | 24; b[p++] = n }
    else if (n < 0x10000) { b[p++] = m | 25; b[p++] = n >>> 8; b[p++] = n & 0xff }
    else if (n < TWO_32) {
      b[p++] = m | 26
      b[p++] = n >>> 24; b[p++] = (n >>> 16) & 0xff; b[p++] = (n >>> 8) & 0xff; b[p++] = n & 0xff
    } else {
      b[p++] = m | 27
      const hi = Math.floor(n / TWO_32)
      const lo = n >>> 0
      b[p++] = hi >>> 24; b[p++] = (hi >>> 16) & 0xff; b[p++] = (hi >>> 8) & 0xff; b[p++] = hi & 0xff
      b[p++] = lo >>> 24; b[p++] = (lo >>> 16) & 0xff; b[p++] = (lo >>> 8) & 0xff; b[p++] = lo & 0xff
    }
    this.length = p
  }
  /** Writes v as a text string if it is all ASCII (then UTF-8 = one byte per unit); false otherwise, nothing written. */
  asciiText(v: string): boolean {
    const n = v.length
    if (n > 0xffff) return false // long strings take the general path (and its limit check)
    this.ensure(n + 3)
    const start = this.length
    this.head(MT_TEXT, n)
    const b = this.buf
    let p = this.length
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i)
      if (c >= 0x80) {
        this.length = start
        return false
      }
      b[p++] = c
    }
    this.length = p
    return true
  }
}

/** Byte-wise lexicographic order (RFC 8949 §4.2.1 orders map keys by their encodings). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

// Record field names repeat in every event: cache their encodings (bounded, so
// attacker-chosen payload keys cannot grow it without limit).
const keyCache = new Map<string, Uint8Array>()
const KEY_CACHE_MAX = 4096

function encodeKey(key: string, mapPath: string): Uint8Array {
  const cached = keyCache.get(key)
  if (cached !== undefined) return cached
  const w = new Writer(1)
  let out: Uint8Array
  try {
    encodeText(w, key, `${mapPath}.${key}`)
  } finally {
    out = w.finish()
  }
  if (keyCache.size < KEY_CACHE_MAX) keyCache.set(key, out)
  return out
}

function encodeText(w: Writer, v: string, path: string): void {
  if (w.asciiText(v)) return // the common case, written without an intermediate buffer
  if (!v.isWellFormed()) throw new CodecError(`${path}: string is not well-formed Unicode`, { path })
  const b = utf8.encode(v)
  if (b.length > limits.codecStringBytesMax) {
    throw new CodecError(`${path}: string of ${b.length} bytes exceeds ${limits.codecStringBytesMax}`, { path })
  }
  w.head(MT_TEXT, b.length)
  w.bytes(b)
}

function countItem(w: Writer, path: string): void {
  if (++w.items > w.itemsMax) throw new CodecError(`${path}: more than ${w.itemsMax} items`, { path })
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

const INSERTION_SORT_KEYS_MAX = 24

function encodeMap(w: Writer, v: { readonly [key: string]: Value }, path: string, depth: number): void {
  let keys = Object.keys(v)
  if (keys.some((k) => v[k] === undefined)) keys = keys.filter((k) => v[k] !== undefined) // an absent optional field is not encoded
  if (keys.length > w.itemsMax) throw new CodecError(`${path}: ${keys.length} keys exceeds ${w.itemsMax}`, { path })
  const encoded = keys.map((k) => encodeKey(k, path))
  // Canonical order (RFC 8949 §4.2.1, bytewise on the encoded keys). Records are small and
  // mostly almost in order: an insertion sort of indexes, which allocates nothing more
  // (Array#sort took 8 % of a replica's allocation, its buffers per map). A large map (a
  // payload's, whose integer-like keys JS puts first) goes to Array#sort: n log n, not n².
  let order: number[] | null = null
  for (let i = 1; i < keys.length; i++) {
    if (order === null && compareBytes(encoded[i - 1]!, encoded[i]!) <= 0) continue
    if (keys.length > INSERTION_SORT_KEYS_MAX) {
      order = keys.map((_, j) => j).sort((a, b) => compareBytes(encoded[a]!, encoded[b]!))
      break
    }
    if (order === null) order = keys.map((_, j) => j)
    const x = order[i]!
    let j = i - 1
    while (j >= 0 && compareBytes(encoded[order[j]!]!, encoded[x]!) > 0) {
      order[j + 1] = order[j]!
      j--
    }
    order[j + 1] = x
  }
  w.head(MT_MAP, keys.length)
  for (let i = 0; i < keys.length; i++) {
    const j = order === null ? i : order[i]!
    countItem(w, path)
    w.bytes(encoded[j]!)
    encodeInto(w, v[keys[j]!]!, `${path}.${keys[j]}`, depth + 1)
  }
}

function encodeInto(w: Writer, v: Value, path: string, depth: number): void {
  if (depth > limits.codecDepthMax) throw new CodecError(`${path}: nesting deeper than ${limits.codecDepthMax}`, { path })
  countItem(w, path)
  if (v === null) return w.byte((MT_SIMPLE << 5) | SIMPLE_NULL)
  if (v === true) return w.byte((MT_SIMPLE << 5) | SIMPLE_TRUE)
  if (v === false) return w.byte((MT_SIMPLE << 5) | SIMPLE_FALSE)
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new CodecError(`${path}: ${v} is not a safe integer`, { path })
    if (v >= 0) return w.head(MT_UINT, v) // -0 encodes as 0
    return w.head(MT_NEGINT, -1 - v)
  }
  if (typeof v === 'string') return encodeText(w, v, path)
  if (v instanceof Uint8Array) {
    if (v.length > limits.codecStringBytesMax) throw new CodecError(`${path}: ${v.length} bytes exceeds ${limits.codecStringBytesMax}`, { path })
    w.head(MT_BYTES, v.length)
    return w.bytes(v)
  }
  if (Array.isArray(v)) {
    const arr = v as readonly Value[]
    if (arr.length > w.itemsMax) throw new CodecError(`${path}: ${arr.length} items exceeds ${w.itemsMax}`, { path })
    w.head(MT_ARRAY, arr.length)
    for (let i = 0; i < arr.length; i++) encodeInto(w, arr[i]!, `${path}[${i}]`, depth + 1)
    return
  }
  if (typeof v === 'object' && isPlainObject(v)) return encodeMap(w, v as { readonly [key: string]: Value }, path, depth)
  throw new CodecError(`${path}: unsupported value of type ${typeof v}`, { path })
}

export function encode(value: Value, options: CodecOptions = {}): Uint8Array {
  const w = new Writer(options.itemsMax ?? limits.codecItemsMax)
  try {
    encodeInto(w, value, '$', 0)
  } catch (e) {
    w.release()
    throw e
  }
  return w.finish()
}

class Reader {
  pos = 0
  items = 0
  readonly data: Uint8Array
  readonly itemsMax: number
  constructor(data: Uint8Array, itemsMax: number) {
    this.data = data
    this.itemsMax = itemsMax
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
  u32(): number {
    return this.byte() * 0x100_0000 + (this.byte() << 16) + (this.byte() << 8) + this.byte()
  }
  /** Reads the argument of a head, enforcing the shortest form (RFC 8949 §4.2.1). */
  arg(info: number): number {
    if (info < 24) return info
    let n: number
    let min: number
    if (info === 24) { n = this.byte(); min = 24 }
    else if (info === 25) { n = (this.byte() << 8) | this.byte(); min = 0x100 }
    else if (info === 26) { n = this.u32(); min = 0x10000 }
    else if (info === 27) {
      const hi = this.u32()
      const lo = this.u32()
      if (hi > 0x1f_ffff) this.fail('integer exceeds 2^53 - 1')
      n = hi * TWO_32 + lo
      min = TWO_32
    } else return this.fail(`indefinite or reserved length (additional info ${info})`)
    if (n < min) this.fail(`non-shortest encoding of ${n}`)
    return n
  }
}

function decodeMap(r: Reader, n: number, depth: number): Value {
  if (n > r.itemsMax) r.fail(`map of ${n} entries exceeds limit`)
  const out: [string, Value][] = []
  let prevKey: Uint8Array | null = null
  for (let i = 0; i < n; i++) {
    const keyStart = r.pos
    const kb = r.data[r.pos]
    if (kb === undefined) r.fail('unexpected end of input')
    if (kb >> 5 !== MT_TEXT) r.fail('map key is not a text string')
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

function decodeAt(r: Reader, depth: number): Value {
  if (depth > limits.codecDepthMax) r.fail(`nesting deeper than ${limits.codecDepthMax}`)
  if (++r.items > r.itemsMax) r.fail(`more than ${r.itemsMax} items`)
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
      // a copy, so a decoded value never aliases (or pins) the input buffer
      const out = new Uint8Array(n)
      out.set(r.take(n))
      return out
    }
    case MT_TEXT: {
      const n = r.arg(info)
      if (n > limits.codecStringBytesMax) r.fail(`text string of ${n} bytes exceeds limit`)
      const bytes = r.take(n)
      try {
        return utf8Strict.decode(bytes)
      } catch {
        r.pos = start
        return r.fail('text string is not valid UTF-8')
      }
    }
    case MT_ARRAY: {
      const n = r.arg(info)
      if (n > r.itemsMax) r.fail(`array of ${n} items exceeds limit`)
      const out: Value[] = []
      for (let i = 0; i < n; i++) out.push(decodeAt(r, depth + 1))
      return out
    }
    case MT_MAP:
      return decodeMap(r, r.arg(info), depth)
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

export function decode(bytes: Uint8Array, options: CodecOptions = {}): Value {
  const r = new Reader(bytes, options.itemsMax ?? limits.codecItemsMax)
  const v = decodeAt(r, 0)
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes`)
  return v
}

/** A data item's major type and argument, read at `offset` of canonical bytes. */
export type Head = { readonly major: number; readonly arg: number; readonly next: number }

/**
 * Reads one head without decoding what follows: lets the ledger store locate the
 * byte span of each event inside a block it has already validated and checksummed.
 */
export function readHead(bytes: Uint8Array, offset: number): Head {
  const r = new Reader(bytes, 0)
  r.pos = offset
  const ib = r.byte()
  const major = ib >> 5
  if (major === MT_SIMPLE) return { major, arg: ib & 0x1f, next: r.pos }
  const arg = r.arg(ib & 0x1f)
  return { major, arg, next: r.pos }
}

const keyEncoder = new TextEncoder()

/**
 * The byte span of the value under `key` in the map that starts at `offset` of canonical bytes
 * (structure only, as skipItem), or null when the map has no such key: a part of a message or
 * block taken as it is, without decoding the rest.
 */
export function mapValueSpan(bytes: Uint8Array, offset: number, key: string): { readonly start: number; readonly end: number } | null {
  const map = readHead(bytes, offset)
  if (map.major !== MT_MAP) throw new CodecError(`offset ${offset}: not a map`, { offset })
  const want = keyEncoder.encode(key)
  let pos = map.next
  for (let i = 0; i < map.arg; i++) {
    const k = readHead(bytes, pos)
    if (k.major !== MT_TEXT) throw new CodecError(`offset ${pos}: map key is not text`, { offset: pos })
    const start = k.next + k.arg
    const end = skipItem(bytes, start)
    if (k.arg === want.length && want.every((b, j) => bytes[k.next + j] === b)) return { start, end }
    pos = end
  }
  return null
}

/** The offset just past the data item that starts at `offset` (structure only, no validation of content). */
export function skipItem(bytes: Uint8Array, offset: number): number {
  let pending = 1 // items still to skip
  let pos = offset
  let steps = 0
  while (pending > 0) {
    if (++steps > bytes.length + 1) throw new CodecError(`offset ${pos}: malformed item`, { offset: pos })
    const h = readHead(bytes, pos)
    pos = h.next
    pending--
    if (h.major === MT_BYTES || h.major === MT_TEXT) pos += h.arg
    else if (h.major === MT_ARRAY) pending += h.arg
    else if (h.major === MT_MAP) pending += 2 * h.arg
    else if (h.major !== MT_UINT && h.major !== MT_NEGINT && h.major !== MT_SIMPLE) {
      throw new CodecError(`offset ${pos}: unsupported major type ${h.major}`, { offset: pos })
    }
    if (pos > bytes.length) throw new CodecError(`offset ${pos}: item runs past the end of input`, { offset: pos })
  }
  return pos
}
