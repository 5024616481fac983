// The Merkle tree of RFC 9162 §2.1 (Certificate Transparency v2; the same tree as
// RFC 6962), generic over the hash function. The ledger uses SHA3-256; the
// published test vectors use SHA-256.
//
// Functions take leaf *hashes* (leafHash(entry)), so a caller that already holds
// them (the store, the frontier) never re-hashes entries. Tree sizes and indices
// are plain numbers: all arithmetic below is done with / and %, not 32-bit bit
// operations, so it stays exact up to 2^53.
import { assert } from '../assert.ts'
import { ZixtError, ErrorCode } from '../errors.ts'
import { equalBytes, type Value } from './codec.ts'

export type HashFn = (data: Uint8Array) => Uint8Array

const LEAF_PREFIX = 0x00 // RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))
const NODE_PREFIX = 0x01 // RFC 9162 §2.1.1: HASH(0x01 || MTH(left) || MTH(right))

export function leafHash(entry: Uint8Array, hash: HashFn): Uint8Array {
  const buf = new Uint8Array(1 + entry.length)
  buf[0] = LEAF_PREFIX
  buf.set(entry, 1)
  return hash(buf)
}

export function nodeHash(left: Uint8Array, right: Uint8Array, hash: HashFn): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length)
  buf[0] = NODE_PREFIX
  buf.set(left, 1)
  buf.set(right, 1 + left.length)
  return hash(buf)
}

/** RFC 9162 §2.1.1: the hash of an empty tree is the hash of the empty string. */
export function emptyRoot(hash: HashFn): Uint8Array {
  return hash(new Uint8Array(0))
}

/** The largest power of two strictly less than n (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
export function splitPoint(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 2, `splitPoint(${n})`)
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** MTH(D[n]) over leaf hashes (RFC 9162 §2.1.1). */
export function rootHash(leafHashes: readonly Uint8Array[], hash: HashFn): Uint8Array {
  if (leafHashes.length === 0) return emptyRoot(hash)
  // Pairing level by level and carrying an odd last node up unchanged builds the
  // same tree as the recursive split at the largest power of two.
  let level: Uint8Array[] = leafHashes.slice()
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!, hash))
    if (level.length % 2 === 1) next.push(level[level.length - 1]!)
    level = next
  }
  return level[0]!
}

function checkIndex(what: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new ZixtError(ErrorCode.invalidArgument, `${what} ${value} is outside [0, ${max}]`, { field: what, value })
  }
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up to the root. */
export function inclusionProof(index: number, leafHashes: readonly Uint8Array[], hash: HashFn): Uint8Array[] {
  checkIndex('index', index, leafHashes.length - 1)
  const out: Uint8Array[] = []
  pathInto(out, index, leafHashes, 0, leafHashes.length, hash)
  return out
}

function pathInto(out: Uint8Array[], m: number, leaves: readonly Uint8Array[], lo: number, hi: number, hash: HashFn): void {
  const n = hi - lo
  if (n <= 1) return
  const k = splitPoint(n)
  if (m < k) {
    pathInto(out, m, leaves, lo, lo + k, hash)
    out.push(rootHash(leaves.slice(lo + k, hi), hash))
  } else {
    pathInto(out, m - k, leaves, lo + k, hi, hash)
    out.push(rootHash(leaves.slice(lo, lo + k), hash))
  }
}

/**
 * RFC 9162 §2.1.3.2. False for any proof that does not lead from `leaf` at
 * `index` to `root` in a tree of `treeSize` leaves, including proofs with a
 * wrong number of hashes or hashes of the wrong length.
 */
export function verifyInclusion(
  index: number, treeSize: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array, hash: HashFn,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false
  const size = emptyRoot(hash).length
  if (leaf.length !== size || proof.some((p) => p.length !== size)) return false
  let fn = index
  let sn = treeSize - 1
  let r = leaf
  for (const p of proof) {
    if (sn === 0) return false // step 4a: proof longer than the path
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r, hash)
      // step 4b: skip the levels where this node is a right-edge node without a sibling
      while (fn % 2 === 0 && fn !== 0) { fn /= 2; sn = Math.floor(sn / 2) }
    } else {
      r = nodeHash(r, p, hash)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && equalBytes(r, root)
}

/** PROOF(m, D[n]) of RFC 9162 §2.1.4.1, for 0 < m ≤ n. */
export function consistencyProof(m: number, leafHashes: readonly Uint8Array[], hash: HashFn): Uint8Array[] {
  checkIndex('m', m, leafHashes.length)
  if (m === 0) throw new ZixtError(ErrorCode.invalidArgument, 'm 0: every tree is consistent with the empty tree; there is no proof', { field: 'm' })
  const out: Uint8Array[] = []
  subproofInto(out, m, leafHashes, 0, leafHashes.length, true, hash)
  return out
}

function subproofInto(
  out: Uint8Array[], m: number, leaves: readonly Uint8Array[], lo: number, hi: number, complete: boolean, hash: HashFn,
): void {
  const n = hi - lo
  if (m === n) {
    if (!complete) out.push(rootHash(leaves.slice(lo, hi), hash))
    return
  }
  const k = splitPoint(n)
  if (m <= k) {
    subproofInto(out, m, leaves, lo, lo + k, complete, hash)
    out.push(rootHash(leaves.slice(lo + k, hi), hash))
  } else {
    subproofInto(out, m - k, leaves, lo + k, hi, false, hash)
    out.push(rootHash(leaves.slice(lo, lo + k), hash))
  }
}

/**
 * RFC 9162 §2.1.4.2: does the tree of size2 with root2 extend the tree of
 * size1 with root1? Policy beyond the RFC (as transparency-dev/merkle): size1 = 0
 * is refused (the empty tree is a prefix of every tree, so such a "proof" proves
 * nothing), and equal sizes need equal roots and an empty proof.
 */
export function verifyConsistency(
  size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[], hash: HashFn,
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 1 || size2 < size1) return false
  if (size1 === size2) return proof.length === 0 && equalBytes(root1, root2)
  if (proof.length === 0) return false // step 1
  const size = emptyRoot(hash).length
  if (proof.some((p) => p.length !== size)) return false
  // step 2: when size1 is a power of two, the old root is itself a node of the path
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof
  let fn = size1 - 1
  let sn = size2 - 1
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) } // step 4
  let fr = path[0]!
  let sr = path[0]!
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr, hash)
      sr = nodeHash(c, sr, hash)
      while (fn % 2 === 0 && fn !== 0) { fn /= 2; sn = Math.floor(sn / 2) }
    } else {
      sr = nodeHash(sr, c, hash)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && equalBytes(fr, root1) && equalBytes(sr, root2)
}

function isPowerOfTwo(n: number): boolean {
  let k = 1
  while (k < n) k *= 2
  return k === n
}

/** Number of set bits of a safe integer. */
function popcount(n: number): number {
  let count = 0
  while (n > 0) { count += n % 2; n = Math.floor(n / 2) }
  return count
}

/**
 * The right edge of a growing tree: the roots of the perfect subtrees that make
 * up the first `size` leaves, largest first (one per set bit of size). O(log n)
 * state; appending a leaf hashes at most log2(n) nodes. Immutable: append
 * returns a new frontier, so a replica can keep the one of its last committed block.
 */
export class MerkleFrontier {
  readonly size: number
  private readonly peaks: readonly Uint8Array[]

  private constructor(size: number, peaks: readonly Uint8Array[]) {
    assert(peaks.length === popcount(size), 'frontier peaks match the bits of size')
    this.size = size
    this.peaks = peaks
  }

  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, [])
  }

  append(leaf: Uint8Array, hash: HashFn): MerkleFrontier {
    const peaks = this.peaks.slice()
    let node = leaf
    // each trailing 1 bit of size is a perfect subtree of the new leaf's height: merge it
    for (let s = this.size; s % 2 === 1; s = Math.floor(s / 2)) node = nodeHash(peaks.pop()!, node, hash)
    peaks.push(node)
    return new MerkleFrontier(this.size + 1, peaks)
  }

  appendAll(leaves: readonly Uint8Array[], hash: HashFn): MerkleFrontier {
    let f: MerkleFrontier = this
    for (const leaf of leaves) f = f.append(leaf, hash)
    return f
  }

  /** MTH of the first `size` leaves: fold the peaks from the right (RFC 9162 §2.1.1). */
  root(hash: HashFn): Uint8Array {
    if (this.peaks.length === 0) return emptyRoot(hash)
    let r = this.peaks[this.peaks.length - 1]!
    for (let i = this.peaks.length - 2; i >= 0; i--) r = nodeHash(this.peaks[i]!, r, hash)
    return r
  }

  toValue(): Value {
    return { size: this.size, peaks: this.peaks.slice() }
  }

  static fromValue(v: Value, hashBytes: number): MerkleFrontier {
    const bad = (why: string): never => {
      throw new ZixtError(ErrorCode.schema, `frontier: ${why}`, { field: 'frontier' })
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return bad('not a map')
    const { size, peaks, ...rest } = v as { readonly [k: string]: Value }
    if (Object.keys(rest).length > 0) return bad(`unknown field ${Object.keys(rest)[0]}`)
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return bad('size is not a non-negative integer')
    if (!Array.isArray(peaks)) return bad('peaks is not an array')
    const list = peaks as readonly Value[]
    if (list.length !== popcount(size)) return bad(`${list.length} peaks for size ${size}`)
    for (const p of list) if (!(p instanceof Uint8Array) || p.length !== hashBytes) return bad(`a peak is not ${hashBytes} bytes`)
    return new MerkleFrontier(size, list as Uint8Array[])
  }
}
