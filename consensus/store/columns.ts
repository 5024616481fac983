// Growable typed-array columns for the in-memory indexes: millions of blocks and
// events cost a few bytes each instead of a JavaScript object each.
export class U32Column {
  private data = new Uint32Array(1024)
  length = 0
  push(v: number): void {
    if (this.length === this.data.length) this.grow()
    this.data[this.length++] = v
  }
  get(i: number): number {
    return this.data[i]!
  }
  private grow(): void {
    const next = new Uint32Array(this.data.length * 2)
    next.set(this.data)
    this.data = next
  }
}

export class F64Column {
  private data = new Float64Array(1024)
  length = 0
  push(v: number): void {
    if (this.length === this.data.length) this.grow()
    this.data[this.length++] = v
  }
  get(i: number): number {
    return this.data[i]!
  }
  /** Index of the last element ≤ v in an ascending column (−1 if none). */
  floorIndex(v: number): number {
    let lo = 0
    let hi = this.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.data[mid]! <= v) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found
  }
  private grow(): void {
    const next = new Float64Array(this.data.length * 2)
    next.set(this.data)
    this.data = next
  }
}
