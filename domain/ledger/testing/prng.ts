// A small seeded PRNG for property tests (sfc32, from PractRand): reproducible
// runs without a dependency. Test-only; production randomness comes from the crypto facade.
export type Rng = {
  /** uniform in [0, 1) */
  next(): number
  /** uniform integer in [0, n) */
  int(n: number): number
  pick<T>(items: readonly T[]): T
  bytes(n: number): Uint8Array
}

export function seededRng(seed: number): Rng {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const u32 = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 15; i++) u32()
  const next = (): number => u32() / 0x1_0000_0000
  const int = (n: number): number => Math.floor(next() * n)
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    bytes: (n: number): Uint8Array => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i += 4) {
        const x = u32()
        out[i] = x & 0xff
        if (i + 1 < n) out[i + 1] = (x >>> 8) & 0xff
        if (i + 2 < n) out[i + 2] = (x >>> 16) & 0xff
        if (i + 3 < n) out[i + 3] = x >>> 24
      }
      return out
    },
  }
}
