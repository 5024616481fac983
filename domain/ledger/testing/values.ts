// Random canonical-codec values for property tests.
import type { Value } from '../codec.ts'
import type { Rng } from './prng.ts'

// Integers at and around every head-size boundary of RFC 8949 §3.
const INT_EDGES = [
  0, 1, 23, 24, 255, 256, 65535, 65536, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER,
  -1, -24, -25, -256, -257, -65536, -65537, -0x1_0000_0000, -0x1_0000_0001, Number.MIN_SAFE_INTEGER,
]

// Code points from every UTF-8 length class, plus characters that sort oddly.
const CHARS = ['a', 'z', 'A', '0', ' ', '"', '\\', '\u0000', '\u007f', '\u0080', 'ü', '\u07ff', '\u0800', '水',
  '\uffff', '\ufeff', '\u{10000}', '\u{1f600}', '\u{10ffff}']

export function randomInt(rng: Rng): number {
  switch (rng.int(4)) {
    case 0: return rng.pick(INT_EDGES)
    case 1: return rng.int(48) - 24
    case 2: return rng.int(0x20000) - 0x10000
    default: {
      const magnitude = Math.floor(rng.next() * 2 ** (1 + rng.int(53)))
      return Math.min(magnitude, Number.MAX_SAFE_INTEGER) * (rng.int(2) === 0 ? 1 : -1) || 0
    }
  }
}

export function randomText(rng: Rng, maxChars = 12): string {
  const n = rng.int(maxChars + 1)
  let s = ''
  for (let i = 0; i < n; i++) s += rng.pick(CHARS)
  return s
}

export function randomValue(rng: Rng, depth = 0, maxDepth = 5): Value {
  const kind = rng.int(depth >= maxDepth ? 6 : 8)
  switch (kind) {
    case 0: return null
    case 1: return rng.int(2) === 0
    case 2: return randomInt(rng)
    case 3: return randomText(rng)
    case 4: return rng.bytes(rng.int(rng.int(8) === 0 ? 300 : 40))
    case 5: return rng.pick([0, 24, 255, 256, 65536]) // lengths and ints near the boundaries
    case 6: {
      const n = rng.int(6)
      const out: Value[] = []
      for (let i = 0; i < n; i++) out.push(randomValue(rng, depth + 1, maxDepth))
      return out
    }
    default: {
      const n = rng.int(6)
      const out: Record<string, Value> = {}
      for (let i = 0; i < n; i++) out[randomText(rng, 4)] = randomValue(rng, depth + 1, maxDepth)
      return out
    }
  }
}
