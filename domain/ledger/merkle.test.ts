import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { decode, encode } from './codec.ts'
import {
  consistencyProof, emptyRoot, inclusionProof, leafHash, MerkleFrontier, nodeHash, rootHash,
  verifyConsistency, verifyInclusion, type HashFn,
} from './merkle.ts'

const sha256: HashFn = (d) => new Uint8Array(createHash('sha256').update(d).digest())
const sha3: HashFn = (d) => new Uint8Array(createHash('sha3-256').update(d).digest())
const VECTORS = new URL('../../../shared/vectors/ct-merkle/', import.meta.url).pathname
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const b64 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'base64'))

type Reference = {
  leafInputs: string[]
  nodeHashesByLevel: string[][]
  rootHashesByTreeSize: string[]
  inclusionProofs: { leafIndex: number; treeSize: number; leafHash: string; root: string; proof: string[] }[]
  consistencyProofs: { size1: number; size2: number; root1: string; root2: string; proof: string[] }[]
  hasherVectors: { desc: string; op: string; inputHex?: string; leftHex?: string; rightHex?: string; expected: string }[]
}

t.test('RFC 6962 reference tree (SHA-256)', async (t) => {
  const ref = JSON.parse(readFileSync(join(VECTORS, 'rfc6962-reference.json'), 'utf8')) as Reference
  const leaves = ref.leafInputs.map((x) => leafHash(hex(x), sha256))
  t.same(leaves.map(toHex), ref.nodeHashesByLevel[0], 'leaf hashes')
  for (let n = 0; n <= leaves.length; n++) {
    t.equal(toHex(rootHash(leaves.slice(0, n), sha256)), ref.rootHashesByTreeSize[n], `root of ${n} leaves`)
    t.equal(toHex(MerkleFrontier.empty().appendAll(leaves.slice(0, n), sha256).root(sha256)), ref.rootHashesByTreeSize[n], `frontier root of ${n}`)
  }
  for (const p of ref.inclusionProofs) {
    const name = `inclusion of leaf ${p.leafIndex} in ${p.treeSize}`
    t.same(inclusionProof(p.leafIndex, leaves.slice(0, p.treeSize), sha256).map(toHex), p.proof, name)
    t.ok(verifyInclusion(p.leafIndex, p.treeSize, hex(p.leafHash), p.proof.map(hex), hex(p.root), sha256), `${name} verifies`)
  }
  for (const p of ref.consistencyProofs) {
    const name = `consistency ${p.size1} → ${p.size2}`
    t.same(consistencyProof(p.size1, leaves.slice(0, p.size2), sha256).map(toHex), p.proof, name)
    t.ok(verifyConsistency(p.size1, p.size2, hex(p.root1), hex(p.root2), p.proof.map(hex), sha256), `${name} verifies`)
  }
  for (const v of ref.hasherVectors) {
    let got: Uint8Array
    if (v.op === 'emptyRoot') got = emptyRoot(sha256)
    else if (v.op === 'hashLeaf') got = leafHash(hex(v.inputHex!), sha256)
    else got = nodeHash(hex(v.leftHex!), hex(v.rightHex!), sha256)
    t.equal(toHex(got), v.expected, v.desc)
  }
})

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') ? [path] : []
  })
}

// wantErr encodes transparency-dev/merkle's policy. We agree on all 196 files,
// including the two SOURCES.md calls policy: we reject a leaf hash of the wrong
// length (empty-root-and-leaf) and any consistency check from size 0.
t.test('transparency-dev inclusion probes', async (t) => {
  const files = jsonFiles(join(VECTORS, 'transparency-dev-testdata/inclusion'))
  t.equal(files.length, 98)
  for (const f of files) {
    const v = JSON.parse(readFileSync(f, 'utf8')) as { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; wantErr: boolean }
    const ok = verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root), sha256)
    t.equal(ok, !v.wantErr, f.slice(VECTORS.length))
  }
})

t.test('transparency-dev consistency probes', async (t) => {
  const files = jsonFiles(join(VECTORS, 'transparency-dev-testdata/consistency'))
  t.equal(files.length, 98)
  for (const f of files) {
    const v = JSON.parse(readFileSync(f, 'utf8')) as { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean }
    const ok = verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), (v.proof ?? []).map(b64), sha256)
    t.equal(ok, !v.wantErr, f.slice(VECTORS.length))
  }
})

const leavesOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => leafHash(encode({ i }), sha3))

function flipped(proof: readonly Uint8Array[], at: number): Uint8Array[] {
  return proof.map((p, i) => {
    if (i !== at) return p
    const c = p.slice()
    c[i % c.length]! ^= 0x80
    return c
  })
}

t.test('every leaf of every tree up to 64 leaves (SHA3-256)', async (t) => {
  const all = leavesOf(64)
  let checked = 0
  for (let n = 1; n <= 64; n++) {
    const leaves = all.slice(0, n)
    const root = rootHash(leaves, sha3)
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(i, leaves, sha3)
      if (!verifyInclusion(i, n, leaves[i]!, proof, root, sha3)) t.fail(`leaf ${i} of ${n}`)
      // a proof binds its position and every hash in it (the tree size is bound by the
      // signed tree head, not by the proof: a left-edge path can fit a bigger tree)
      if (verifyInclusion((i + 1) % n, n, leaves[i]!, proof, root, sha3) && n > 1) t.fail(`wrong index accepted ${i}/${n}`)
      if (proof.length > 0 && verifyInclusion(i, n, leaves[i]!, flipped(proof, i % proof.length), root, sha3)) t.fail(`flipped proof ${i}/${n}`)
      if (verifyInclusion(i, n, leaves[i]!, proof.slice(0, -1), root, sha3) && proof.length > 0) t.fail(`short proof ${i}/${n}`)
      if (verifyInclusion(i, n, leaves[i]!, [...proof, root], root, sha3)) t.fail(`long proof ${i}/${n}`)
      checked++
    }
  }
  t.equal(checked, 64 * 65 / 2, 'all leaf/size pairs verified, and all mutations refused')
})

t.test('every pair of sizes up to 64 (SHA3-256)', async (t) => {
  const all = leavesOf(64)
  const roots = Array.from({ length: 65 }, (_, n) => rootHash(all.slice(0, n), sha3))
  let checked = 0
  for (let n = 1; n <= 64; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = consistencyProof(m, all.slice(0, n), sha3)
      if (!verifyConsistency(m, n, roots[m]!, roots[n]!, proof, sha3)) t.fail(`${m} → ${n}`)
      if (m < n) {
        if (verifyConsistency(m, n, roots[m - 1]!, roots[n]!, proof, sha3)) t.fail(`wrong old root ${m} → ${n}`)
        if (verifyConsistency(m, n, roots[m]!, roots[n - 1]!, proof, sha3)) t.fail(`wrong new root ${m} → ${n}`)
        if (verifyConsistency(m, n, roots[m]!, roots[n]!, flipped(proof, (m + n) % proof.length), sha3)) t.fail(`flipped ${m} → ${n}`)
        if (n < 64 && verifyConsistency(m, n + 1, roots[m]!, roots[n + 1]!, proof, sha3)) t.fail(`wrong size ${m} → ${n}`)
      }
      checked++
    }
  }
  t.equal(checked, 64 * 65 / 2)
  t.notOk(verifyConsistency(0, 5, roots[0]!, roots[5]!, [], sha3), 'size 0 proves nothing')
  t.notOk(verifyConsistency(6, 5, roots[6]!, roots[5]!, [], sha3), 'shrinking tree')
  t.throws(() => consistencyProof(0, all, sha3), { code: 'ZIXT_ERR_INVALID_ARGUMENT' })
  t.throws(() => inclusionProof(64, all, sha3), { code: 'ZIXT_ERR_INVALID_ARGUMENT', message: /index 64/ })
})

t.test('frontier root equals rootHash at every size, and survives persistence', async (t) => {
  const all = leavesOf(300)
  let f = MerkleFrontier.empty()
  let mismatches = 0
  for (let n = 0; n <= all.length; n++) {
    if (n > 0) f = f.append(all[n - 1]!, sha3)
    if (f.size !== n || toHex(f.root(sha3)) !== toHex(rootHash(all.slice(0, n), sha3))) mismatches++
    const restored = MerkleFrontier.fromValue(decode(encode(f.toValue())), 32)
    if (toHex(restored.root(sha3)) !== toHex(f.root(sha3))) mismatches++
  }
  t.equal(mismatches, 0)
  const before = f.root(sha3)
  f.append(all[0]!, sha3)
  t.same(f.root(sha3), before, 'append returns a new frontier and leaves this one unchanged')
})

t.test('frontier refuses a malformed persisted value', async (t) => {
  const good = MerkleFrontier.empty().appendAll(leavesOf(5), sha3).toValue() as { size: number; peaks: Uint8Array[] }
  const bad: [unknown, RegExp][] = [
    [null, /not a map/],
    [{ ...good, size: 7 }, /2 peaks for size 7/],
    [{ ...good, size: -1 }, /size/],
    [{ ...good, peaks: [good.peaks[0], new Uint8Array(31)] }, /32 bytes/],
    [{ ...good, extra: 1 }, /unknown field extra/],
  ]
  for (const [v, message] of bad) t.throws(() => MerkleFrontier.fromValue(v as never, 32), { code: 'ZIXT_ERR_SCHEMA', message })
})
