// Field readers for decoding ledger records: each checks one field's type and
// limits and names the field (e.g. "block.events[3].prevHash") when it is wrong.
import { ErrorCode, ZixtError } from '../errors.ts'
import type { Value } from './codec.ts'

export type ValueMap = { readonly [key: string]: Value }

export function schemaError(field: string, reason: string): ZixtError {
  return new ZixtError(ErrorCode.schema, `${field}: ${reason}`, { field })
}

export function isMap(v: Value | undefined): v is ValueMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** A map with exactly these keys: unknown fields are refused (a new shape is a new record type). */
export function readMap(v: Value | undefined, field: string, keys: readonly string[]): ValueMap {
  if (!isMap(v)) throw schemaError(field, `expected a map, got ${describe(v)}`)
  for (const key of keys) if (!(key in v)) throw schemaError(`${field}.${key}`, 'missing')
  const present = Object.keys(v)
  if (present.length !== keys.length) {
    const extra = present.find((k) => !keys.includes(k))
    throw schemaError(`${field}.${extra}`, 'unknown field')
  }
  return v
}

export function readUint(m: ValueMap, key: string, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = m[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw schemaError(`${field}.${key}`, `expected a non-negative integer, got ${describe(v)}`)
  }
  if (v > max) throw schemaError(`${field}.${key}`, `${v} exceeds ${max}`)
  return v
}

const utf8 = new TextEncoder()

export function readText(m: ValueMap, key: string, field: string, maxBytes: number, minBytes = 0): string {
  const v = m[key]
  if (typeof v !== 'string') throw schemaError(`${field}.${key}`, `expected a text string, got ${describe(v)}`)
  checkTextLength(v, `${field}.${key}`, maxBytes, minBytes)
  return v
}

export function checkTextLength(v: string, field: string, maxBytes: number, minBytes = 0): void {
  if (v.length > maxBytes) throw schemaError(field, `longer than ${maxBytes} bytes`)
  if (v.length * 3 <= maxBytes && v.length >= minBytes) return // fits whatever its characters
  const n = utf8.encode(v).length
  if (n > maxBytes) throw schemaError(field, `${n} bytes exceeds ${maxBytes}`)
  if (n < minBytes) throw schemaError(field, `${n} bytes is shorter than ${minBytes}`)
}

export function readBytes(m: ValueMap, key: string, field: string, maxBytes: number, exactBytes?: number): Uint8Array {
  const v = m[key]
  if (!(v instanceof Uint8Array)) throw schemaError(`${field}.${key}`, `expected a byte string, got ${describe(v)}`)
  if (exactBytes !== undefined && v.length !== exactBytes) {
    throw schemaError(`${field}.${key}`, `expected ${exactBytes} bytes, got ${v.length}`)
  }
  if (v.length > maxBytes) throw schemaError(`${field}.${key}`, `${v.length} bytes exceeds ${maxBytes}`)
  return v
}

export function readArray(m: ValueMap, key: string, field: string, maxItems: number): readonly Value[] {
  const v = m[key]
  if (!Array.isArray(v)) throw schemaError(`${field}.${key}`, `expected an array, got ${describe(v)}`)
  if (v.length > maxItems) throw schemaError(`${field}.${key}`, `${v.length} items exceeds ${maxItems}`)
  return v as readonly Value[]
}

export function readPayload(m: ValueMap, key: string, field: string): ValueMap {
  const v = m[key]
  if (!isMap(v)) throw schemaError(`${field}.${key}`, `expected a map, got ${describe(v)}`)
  return v
}

function describe(v: Value | undefined): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (v instanceof Uint8Array) return `${v.length} bytes`
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `text of ${v.length} characters`
  if (typeof v === 'object') return 'a map'
  return `${typeof v} ${String(v)}`
}
