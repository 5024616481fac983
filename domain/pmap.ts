// A persistent (immutable) map from strings to values: a hash array mapped trie
// (Bagwell, "Ideal Hash Trees", 2001) with path copying. set/delete return a new map
// and share every untouched node with the old one, so a replica can keep the state
// before a command and the state after it for O(log₃₂ n) extra memory per change —
// the ledger state is never copied whole. Iteration order depends only on the keys
// (hash order, then key order within a collision), never on insertion history, so
// two replicas holding equal contents iterate identically.
import { assert } from './assert.ts'

const BITS = 5
const WIDTH = 1 << BITS // 32 children per node
const MASK = WIDTH - 1
const MAX_SHIFT = 30 // levels at shifts 0,5,…,30 consume all 32 hash bits

type Leaf<V> = { readonly kind: 0; readonly hash: number; readonly key: string; readonly value: V }
/** Keys whose 32-bit hashes are equal; entries sorted by key. */
type Collision<V> = { readonly kind: 1; readonly hash: number; readonly entries: readonly Leaf<V>[] }
type Branch<V> = { readonly kind: 2; readonly bitmap: number; readonly children: readonly Node<V>[] }
type Node<V> = Leaf<V> | Collision<V> | Branch<V>

/** FNV-1a over UTF-16 code units: deterministic on every platform. Not a security boundary. */
function hashString(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

const fragment = (hash: number, shift: number): number => (hash >>> shift) & MASK

function withChild<V>(children: readonly Node<V>[], index: number, child: Node<V>): Node<V>[] {
  const next = children.slice()
  next[index] = child
  return next
}

function insertAt<V>(children: readonly Node<V>[], index: number, child: Node<V>): Node<V>[] {
  return [...children.slice(0, index), child, ...children.slice(index)]
}

function removeAt<V>(children: readonly Node<V>[], index: number): Node<V>[] {
  return [...children.slice(0, index), ...children.slice(index + 1)]
}

/** Two leaves (or a leaf and a collision) with different hashes under one new branch. */
function merge<V>(a: Leaf<V> | Collision<V>, b: Leaf<V>, shift: number): Node<V> {
  if (a.hash === b.hash) {
    const entries = a.kind === 0 ? [a] : a.entries
    return { kind: 1, hash: a.hash, entries: [...entries, b].sort((x, y) => (x.key < y.key ? -1 : 1)) }
  }
  assert(shift <= MAX_SHIFT, 'distinct hashes differ within 32 bits')
  const fa = fragment(a.hash, shift)
  const fb = fragment(b.hash, shift)
  if (fa === fb) return { kind: 2, bitmap: 1 << fa, children: [merge(a, b, shift + BITS)] }
  const bitmap = (1 << fa) | (1 << fb)
  return { kind: 2, bitmap, children: fa < fb ? [a, b] : [b, a] }
}

type SetResult<V> = { node: Node<V>; added: boolean }

function setIn<V>(node: Node<V>, leaf: Leaf<V>, shift: number): SetResult<V> {
  if (node.kind === 0) {
    if (node.key === leaf.key) return { node: leaf, added: false }
    return { node: merge(node, leaf, shift), added: true }
  }
  if (node.kind === 1) {
    if (node.hash !== leaf.hash) return { node: merge(node, leaf, shift), added: true }
    const i = node.entries.findIndex((e) => e.key === leaf.key)
    if (i >= 0) return { node: { kind: 1, hash: node.hash, entries: withChild(node.entries, i, leaf) as Leaf<V>[] }, added: false }
    return { node: merge(node, leaf, shift), added: true }
  }
  const bit = 1 << fragment(leaf.hash, shift)
  const index = popcount(node.bitmap & (bit - 1))
  if ((node.bitmap & bit) === 0) {
    return { node: { kind: 2, bitmap: node.bitmap | bit, children: insertAt(node.children, index, leaf) }, added: true }
  }
  const r = setIn(node.children[index]!, leaf, shift + BITS)
  return { node: { kind: 2, bitmap: node.bitmap, children: withChild(node.children, index, r.node) }, added: r.added }
}

/** undefined: key absent (node unchanged); null: node became empty. */
function deleteIn<V>(node: Node<V>, hash: number, key: string, shift: number): Node<V> | null | undefined {
  if (node.kind === 0) return node.key === key ? null : undefined
  if (node.kind === 1) {
    if (node.hash !== hash) return undefined
    const i = node.entries.findIndex((e) => e.key === key)
    if (i < 0) return undefined
    const entries = removeAt(node.entries, i) as Leaf<V>[]
    return entries.length === 1 ? entries[0]! : { kind: 1, hash, entries }
  }
  const bit = 1 << fragment(hash, shift)
  if ((node.bitmap & bit) === 0) return undefined
  const index = popcount(node.bitmap & (bit - 1))
  const child = deleteIn(node.children[index]!, hash, key, shift + BITS)
  if (child === undefined) return undefined
  if (child === null) {
    if (node.children.length === 1) return null
    const children = removeAt(node.children, index)
    // a branch holding a single leaf collapses into it, keeping the trie canonical
    if (children.length === 1 && children[0]!.kind !== 2) return children[0]!
    return { kind: 2, bitmap: node.bitmap & ~bit, children }
  }
  if (child.kind !== 2 && node.children.length === 1) return child
  return { kind: 2, bitmap: node.bitmap, children: withChild(node.children, index, child) }
}

function* walk<V>(node: Node<V>): Generator<Leaf<V>> {
  if (node.kind === 0) yield node
  else if (node.kind === 1) yield* node.entries
  else for (const c of node.children) yield* walk(c)
}

export class PMap<V> {
  static empty<V>(): PMap<V> {
    return new PMap<V>(null, 0)
  }

  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    let m = PMap.empty<V>()
    for (const [k, v] of entries) m = m.set(k, v)
    return m
  }

  readonly #root: Node<V> | null
  readonly size: number

  private constructor(root: Node<V> | null, size: number) {
    this.#root = root
    this.size = size
  }

  get(key: string): V | undefined {
    const hash = hashString(key)
    let node = this.#root
    let shift = 0
    while (node !== null) {
      if (node.kind === 0) return node.key === key ? node.value : undefined
      if (node.kind === 1) return node.hash === hash ? node.entries.find((e) => e.key === key)?.value : undefined
      const bit = 1 << fragment(hash, shift)
      if ((node.bitmap & bit) === 0) return undefined
      node = node.children[popcount(node.bitmap & (bit - 1))]!
      shift += BITS
    }
    return undefined
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  set(key: string, value: V): PMap<V> {
    assert(value !== undefined, 'PMap values are never undefined')
    const leaf: Leaf<V> = { kind: 0, hash: hashString(key), key, value }
    if (this.#root === null) return new PMap(leaf, 1)
    const r = setIn(this.#root, leaf, 0)
    return new PMap(r.node, this.size + (r.added ? 1 : 0))
  }

  delete(key: string): PMap<V> {
    if (this.#root === null) return this
    const r = deleteIn(this.#root, hashString(key), key, 0)
    if (r === undefined) return this
    return new PMap(r, this.size - 1)
  }

  /** set(key, f(current)) — f returns undefined to delete. */
  update(key: string, f: (current: V | undefined) => V | undefined): PMap<V> {
    const next = f(this.get(key))
    return next === undefined ? this.delete(key) : this.set(key, next)
  }

  *entries(): Generator<readonly [string, V]> {
    if (this.#root === null) return
    for (const leaf of walk(this.#root)) yield [leaf.key, leaf.value] as const
  }

  *keys(): Generator<string> {
    for (const [k] of this.entries()) yield k
  }

  *values(): Generator<V> {
    for (const [, v] of this.entries()) yield v
  }
}
