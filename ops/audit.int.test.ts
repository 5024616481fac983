// audit against a real ledger (domain executor, LedgerStore, ML-DSA certificates, SLH-DSA
// tree heads): intact passes; a flipped byte, a forged signature or an altered event that
// keeps its record checksum valid is named by block, record and reason.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import t from 'tap'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { decodeGenesis } from '../domain/genesis.ts'
import { decodeBlock, encodeBlock } from '../domain/ledger/block.ts'
import { decodeTreeHead, encodeTreeHead, treeHeadMessage } from '../domain/ledger/treeHead.ts'
import { auditLedger, main } from './audit.ts'
import { main as replayMain } from './replay.ts'
import { openLedger } from './ledgerSource.ts'
import { buildLedger } from './testing/ledgerFixture.ts'

const root = mkdtempSync(join(tmpdir(), 'zixt-audit-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const fixture = await buildLedger(join(root, 'intact'), { messages: 150, perBlock: 40 }) // blocks 0..3

type Record = { at: number; type: number; length: number }
function records(buf: Buffer): Record[] {
  const out: Record[] = []
  for (let at = 0; at + 10 <= buf.length;) {
    const length = buf.readUInt32LE(at + 2)
    out.push({ at, type: buf[at + 1]!, length })
    at += 10 + length
  }
  return out
}

/** A copy of the ledger with one record's payload replaced (same length) and its CRC made valid again. */
function tamper(name: string, edit: (segment: Buffer, recs: Record[]) => void): string {
  const dir = join(root, name)
  cpSync(fixture.dir, dir, { recursive: true })
  rmSync(join(dir, 'replica-0', 'ledger', 'LOCK'), { force: true })
  const seg = join(dir, 'replica-0', 'ledger', 'ledger-000001.seg')
  const buf = readFileSync(seg)
  edit(buf, records(buf))
  writeFileSync(seg, buf)
  return dir
}

function rewrite(buf: Buffer, r: Record, payload: Uint8Array): void {
  if (payload.length !== r.length) throw new Error(`re-encoded record is ${payload.length} bytes, was ${r.length}`)
  buf.set(payload, r.at + 6)
  buf.writeUInt32LE(crc32(buf.subarray(r.at, r.at + 6 + r.length)), r.at + 6 + r.length)
}

const payloadOf = (buf: Buffer, r: Record): Uint8Array => new Uint8Array(buf.subarray(r.at + 6, r.at + 6 + r.length))
const blockRecords = (recs: Record[]): Record[] => recs.filter((r) => r.type === 1)

async function audit(dir: string) {
  const store = await openLedger(join(dir, 'replica-0', 'ledger'), true)
  try {
    return await auditLedger(store, decodeGenesis(new Uint8Array(readFileSync(join(dir, 'genesis.cbor')))), nativeCrypto)
  } finally {
    await store.close()
  }
}

t.test('an intact ledger passes, through the CLI too', async (t) => {
  const r = await audit(fixture.dir)
  t.equal(r.problem, null)
  t.same([r.ok, r.blocks, r.events, r.treeHeads], [true, fixture.blocks, fixture.events, 3])
  t.equal(await main(['--data', fixture.dir, '--json']), 0, 'exit 0')
})

t.test('one flipped byte in a block record: named by block and reason', async (t) => {
  const dir = tamper('flipped', (buf, recs) => {
    const r = blockRecords(recs)[2]!
    buf[r.at + 6 + Math.floor(r.length / 2)]! ^= 0x01
  })
  const r = await audit(dir)
  t.equal(r.ok, false)
  t.equal(r.problem?.height, 2, 'block 2')
  t.match(r.problem?.reason, /checksum|crc|corrupt/i)
  t.equal(await main(['--data', dir]), 1, 'exit non-zero')
})

t.test('a forged commit signature: named by block, certificate entry and reason', async (t) => {
  const dir = tamper('forged-cert', (buf, recs) => {
    const r = blockRecords(recs)[1]!
    const b = decodeBlock(payloadOf(buf, r))
    const sig = new Uint8Array(b.certificate[1]!.signature)
    sig[100]! ^= 0xff
    rewrite(buf, r, encodeBlock({ ...b, certificate: b.certificate.map((c, i) => (i === 1 ? { ...c, signature: sig } : c)) }))
  })
  const r = await audit(dir)
  t.same(r.problem, { height: 1, record: 'certificate signature 1 (replica 1)', reason: 'ML-DSA-65 commit signature does not verify' })
})

t.test('a forged tree-head signature: named by replica, size and reason', async (t) => {
  const dir = tamper('forged-sth', (buf, recs) => {
    const r = recs.filter((x) => x.type === 2)[1]!
    const th = decodeTreeHead(payloadOf(buf, r))
    const sig = new Uint8Array(th.signature)
    sig[5]! ^= 0x01
    rewrite(buf, r, encodeTreeHead({ ...th, signature: sig }))
  })
  const r = await audit(dir)
  t.same(r.problem, { height: null, record: `tree head of replica 1 at size ${fixture.events}`, reason: 'SLH-DSA signature does not verify' })
})

t.test('an altered event with a valid record checksum: replay names block and event', async (t) => {
  const dir = tamper('altered-event', (buf, recs) => {
    const r = blockRecords(recs)[3]!
    const b = decodeBlock(payloadOf(buf, r))
    const e = b.events[5]!
    const ct = e.payload['ciphertext'] as string
    const altered = { ...e, payload: { ...e.payload, ciphertext: (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1) } }
    rewrite(buf, r, encodeBlock({ ...b, events: b.events.map((x, i) => (i === 5 ? altered : x)) }))
  })
  const r = await audit(dir)
  t.equal(r.ok, false)
  t.equal(r.problem?.height, 3, 'block 3')
  t.match(r.problem?.record, /event 5 \(position \d+\)|block record/)
  t.match(r.problem?.reason, /differs from what replaying|root|tree|event/i)
})

t.test('a live ledger: events newer than 2f+1 tree heads are "not yet covered", not a failure', async (t) => {
  const live = await buildLedger(join(root, 'live'), { messages: 120, perBlock: 40, signedMessages: 40 })
  t.ok(live.coveredEvents > 0 && live.coveredEvents < live.events, `tree heads sign ${live.coveredEvents} of ${live.events} events`)
  const r = await audit(live.dir)
  t.equal(r.problem, null)
  t.equal(r.ok, true)
  t.same(r.uncovered, { count: live.events - live.coveredEvents, fromPosition: live.coveredEvents, toPosition: live.events - 1, replicasCovering: 0 })
  t.equal(await main(['--data', live.dir]), 0, 'exit 0: reported, not failed')
  t.equal(await main(['--data', live.dir, '--require-covered']), 1, '--require-covered: exit 1')
  const strict = await (async () => {
    const store = await openLedger(live.ledgerDir, true)
    try {
      return await auditLedger(store, live.genesis, nativeCrypto, { requireCovered: true })
    } finally {
      await store.close()
    }
  })()
  t.same(strict.problem, { height: null, record: `event at position ${live.coveredEvents}`, reason: 'covered by signed tree heads of 0 replicas, 2f+1 = 3 needed' })
  t.equal((await audit(fixture.dir)).uncovered, null, 'a fully signed ledger has nothing uncovered')
})

t.test('a tree head that exists and does not match fails, even with a valid signature', async (t) => {
  const dir = join(root, 'bad-root')
  cpSync(fixture.dir, dir, { recursive: true })
  rmSync(join(dir, 'replica-0', 'ledger', 'LOCK'), { force: true })
  const store = await openLedger(join(dir, 'replica-0', 'ledger'))
  const size = fixture.events - 3
  const th = { treeSize: size, treeRoot: new Uint8Array(32).fill(7), time: Date.now() }
  await store.appendTreeHead({ ...th, replica: 3, signature: nativeCrypto.slhDsaShake256f.sign(fixture.identitySecretKeys[3]!, treeHeadMessage(th)) })
  await store.close()
  const r = await audit(dir)
  t.same(r.problem, { height: null, record: `tree head of replica 3 at size ${size}`, reason: 'its root does not match the recomputed event tree' })
  t.equal(await main(['--data', dir]), 1, 'exit 1 without --require-covered')
})

t.test('audit and replay read a ledger whose store another process holds open (LOCK taken)', async (t) => {
  const dir = join(root, 'held')
  cpSync(fixture.dir, dir, { recursive: true })
  rmSync(join(dir, 'replica-0', 'ledger', 'LOCK'), { force: true })
  const held = await openLedger(join(dir, 'replica-0', 'ledger'))
  t.teardown(() => held.close())
  await t.rejects(openLedger(join(dir, 'replica-0', 'ledger'), true), 'the locking store cannot open it a second time')
  const capture = async (run: () => Promise<number>) => {
    const lines: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0) as typeof process.stdout.write
    try {
      return { code: await run(), out: lines.join('') }
    } finally {
      process.stdout.write = write
    }
  }
  const a = await capture(() => main(['--data', dir, '--json']))
  t.equal(a.code, 0, 'audit: exit 0 while the store is held')
  t.match(JSON.parse(a.out), { ok: true, blocks: fixture.blocks, events: fixture.events, treeHeads: 3, problem: null }, 'the whole ledger audited, tree heads included')
  const r = await capture(() => replayMain(['--data', dir, '--json']))
  t.equal(r.code, 0, 'replay: exit 0 while the store is held')
  t.equal(r.out.trim().split('\n').length, fixture.events, 'replay lists every event')
})
