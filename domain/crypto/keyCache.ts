// A small LRU of imported/expanded keys, so repeated signing or verifying with one key
// skips the import (native KeyObject) or the expansion (noble ML-DSA/ML-KEM keygen).
// Entries are keyed by a hash of the key bytes, never the bytes themselves, and the
// cache never logs anything. Evicted values are handed to `dispose` (wipes secrets).
import { assert } from '../assert.ts'

export class KeyCache<V> {
  private readonly entries = new Map<string, V>()
  private readonly capacity: number
  private readonly dispose: (value: V) => void

  constructor(capacity: number, dispose: (value: V) => void = () => {}) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'KeyCache capacity must be a positive integer')
    this.capacity = capacity
    this.dispose = dispose
  }

  get size(): number {
    return this.entries.size
  }

  /** The cached value for `id`, or `make()` stored under it (evicting the least recently used). */
  getOrCreate(id: string, make: () => V): V {
    const hit = this.entries.get(id)
    if (hit !== undefined) {
      this.entries.delete(id)
      this.entries.set(id, hit)
      return hit
    }
    const value = make()
    this.entries.set(id, value)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string
      const evicted = this.entries.get(oldest) as V
      this.entries.delete(oldest)
      this.dispose(evicted)
    }
    assert(this.entries.size <= this.capacity, 'KeyCache over capacity')
    return value
  }

  clear(): void {
    for (const value of this.entries.values()) this.dispose(value)
    this.entries.clear()
  }
}
