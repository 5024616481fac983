// Certificates kept beside their blocks (certificateRecord.ts): what a replica writes with
// appendCommitted, read back through the store and a follower, after a reopen and a torn tail.
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { encodeBlock } from '../../domain/ledger/block.ts'
import type { Block, CommitSignature } from '../../domain/ledger/envelope.ts'
import type { HashFn } from '../../domain/ledger/merkle.ts'
import { ChainBuilder } from '../../domain/ledger/testing/chain.ts'
import { seededRng } from '../../domain/ledger/testing/prng.ts'
import { LedgerReader } from './ledgerReader.ts'
import { LedgerStore } from './ledgerStore.ts'

const sha3: HashFn = (d) => new Uint8Array(createHash('sha3-256').update(d).digest())
const cert = (h: number, tag: number): CommitSignature[] => [0, 1, 2].map((r) => ({ replica: r, keyId: `op:${r}`, signature: new Uint8Array(40).fill(h * 7 + r + tag) }))

function chain(n: number): Block[] {
  const builder = new ChainBuilder(sha3, seededRng(3), { streams: 3, largePayloadEvery: 0 })
  return Array.from({ length: n }, (_, i) => builder.next(i % 3))
}

t.test('proofs, then agreed certificates; block records stay certificate-free', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zixt-cert-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const blocks = chain(6)
  const store = await LedgerStore.open(dir, { hash: sha3 })
  for (const [h, b] of blocks.entries()) {
    // block h with this replica's proof; the agreed certificate of h − 1 arrives with it
    const syncs = store.syncs
    await store.appendCommitted({ ...b, certificate: cert(h, 100) }, false, h === 0 ? null : { height: h - 1, certificate: cert(h - 1, 0) })
    t.equal(store.syncs - syncs, 1, `block ${h} and its certificate records: one write and fdatasync`)
  }
  const check = (s: { readBlock(h: number): Block; readBlockBytes(h: number): Uint8Array }, what: string): void => {
    for (let h = 0; h < 5; h++) {
      t.same(s.readBlock(h).certificate, cert(h, 0), `${what}: block ${h} carries its agreed certificate`)
      t.same(s.readBlockBytes(h), encodeBlock({ ...blocks[h]!, certificate: cert(h, 0) }), `${what}: block ${h} bytes with the agreed certificate`)
    }
    t.same(s.readBlock(5).certificate, cert(5, 100), `${what}: the tip carries the replica's own proof`)
  }
  check(store, 'store')
  for (let h = 0; h < 6; h++) t.same(store.readBlockRecordBytes(h), encodeBlock({ ...blocks[h]!, certificate: [] }), `record ${h} has no certificate inside`)
  t.equal(store.certificateOf(4)?.agreed, true)
  t.equal(store.certificateOf(5)?.agreed, false)
  const reader = LedgerReader.open(dir, { hash: sha3 })
  check(reader, 'reader')
  reader.close()
  await store.close()
  const again = await LedgerStore.open(dir, { hash: sha3 })
  check(again, 'reopened')
  await again.close()
})

t.test('a torn tail after the proof record leaves the earlier blocks and their certificates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zixt-cert-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const blocks = chain(3)
  const store = await LedgerStore.open(dir, { hash: sha3 })
  for (const [h, b] of blocks.entries()) await store.appendCommitted({ ...b, certificate: cert(h, 100) }, false, h === 0 ? null : { height: h - 1, certificate: cert(h - 1, 0) })
  await store.close()
  const seg = join(dir, readdirSync(dir).filter((f) => f.endsWith('.seg')).sort().at(-1)!)
  truncateSync(seg, statSync(seg).size - 5) // inside block 2's record: its proof and block 1's agreed certificate are intact
  const again = await LedgerStore.open(dir, { hash: sha3 })
  t.ok(again.recovery !== null, 'the torn block record is dropped')
  t.equal(again.height, 1)
  t.same(again.readBlock(1).certificate, cert(1, 0), 'block 1 keeps the agreed certificate written before the torn block')
  t.same(again.readBlock(0).certificate, cert(0, 0))
  // the replica commits block 2 again (here with the agreed certificate of block 1 once more)
  await again.appendCommitted({ ...blocks[2]!, certificate: cert(2, 50) }, false, { height: 1, certificate: cert(1, 0) })
  t.same(again.readBlock(2).certificate, cert(2, 50), 'the new proof replaces the one left by the torn write')
  await again.close()
})
