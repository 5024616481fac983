// Real replica processes on 127.0.0.1, real domain commands (registered user, verified
// e-mail, a thread, signed messages), real TLS and ML-DSA. What a user of the ledger would
// notice: commands acknowledged by f+1 replicas are in every correct ledger, at the place
// the reply said, in order; the cluster keeps going when its primary dies, when a replica
// comes back from far behind, and when someone sends it garbage.
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { connect as netConnect } from 'node:net'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { fromBase64url } from '../domain/encoding.ts'
import { encodeEvent } from '../domain/ledger/event.ts'
import type { SignedTreeHead } from '../domain/ledger/envelope.ts'
import { treeHeadMessage } from '../domain/ledger/treeHead.ts'
import { mallocEnv, startCluster, type RunningCluster } from './cluster.ts'
import type { CommandResult } from './app.ts'
import { genesisProtocolKeys } from './keys.ts'
import { encodeBody, encodeSigned, type Body } from './messages.ts'
import { dial } from './net/channel.ts'
import { FrameTag } from './net/frame.ts'
import { LedgerStore } from './store/ledgerStore.ts'
import { makeWorkload } from './testing/workload.ts'

const crypto = nativeCrypto
const fast = { viewTimeoutMs: 1000, checkpointInterval: 64, rotateEveryBlocks: 0 }

async function cluster(t: Test, logs: string[][], treeHeadIntervalMs = 2000): Promise<RunningCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'zixt-cluster-'))
  const c = await startCluster({ dataDir: dir, replica: fast, treeHeadIntervalMs, onLog: (i, l) => logs[i]!.push(l) })
  t.teardown(async () => {
    await c.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return c
}

function readLedger(dataDir: string, i: number): Promise<LedgerStore> {
  return LedgerStore.open(join(dataDir, `replica-${i}`, 'ledger'), { hash: crypto.sha3_256 })
}

t.test('SIGKILL the primary under steady load: a new view commits within seconds, nothing acknowledged is lost or reordered', async (t) => {
  const logs: string[][] = [[], [], [], []]
  const treeHeadIntervalMs = 1000
  const c = await cluster(t, logs, treeHeadIntervalMs)
  const client = c.client({ retransmitMs: 500, deadlineMs: 30_000 })
  t.teardown(() => client.close())
  const w = makeWorkload(crypto, c.serviceKey)
  for (const s of w.setup) t.equal((await client.submit(s)).kind, 'committed', 'setup command committed')

  // Steady load: one command every 10 ms, each awaited independently.
  const acked: { i: number; sentAt: number; at: number; result: CommandResult }[] = []
  const inflight: Promise<void>[] = []
  let killedAt = 0
  const start = Date.now()
  for (let i = 0; Date.now() - start < 5000; i++) {
    const bytes = w.message(`steady ${i}`)
    const sentAt = Date.now()
    inflight.push(client.submit(bytes).then((result) => void acked.push({ i, sentAt, at: Date.now(), result })))
    if (killedAt === 0 && Date.now() - start > 1500) {
      await c.kill(0, 'SIGKILL') // replica 0 is the primary of view 0
      killedAt = Date.now()
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  await Promise.all(inflight)
  t.ok(acked.every((a) => a.result.kind === 'committed'), `all ${acked.length} commands committed`)
  // Only commands sent after the kill: the old primary cannot have ordered them.
  const after = acked.filter((a) => a.sentAt > killedAt).map((a) => a.at - killedAt)
  const firstAfter = Math.min(...after)
  t.ok(firstAfter < 5000, `first commit ${firstAfter} ms after the primary died`)
  t.comment(`${acked.length} commands, first commit after SIGKILL: ${firstAfter} ms`)
  // Tree heads: three intervals after the last commit, every event is covered by the
  // SLH-DSA signed tree heads of 2f+1 replicas, held by each surviving replica.
  const treeSize = Math.max(...acked.map((a) => (a.result.kind === 'committed' ? a.result.events.at(-1)!.position + 1 : 0)))
  await new Promise((r) => setTimeout(r, 3 * treeHeadIntervalMs + 500))
  await c.stop()

  // Every acknowledged result is in each surviving ledger, at the height and positions the reply named.
  const stores = await Promise.all([1, 2, 3].map((i) => readLedger(c.dataDir, i)))
  t.teardown(() => Promise.all(stores.map((s) => s.close())))
  const height = Math.min(...stores.map((s) => s.height))
  for (let h = 0; h <= height; h++) {
    const bytes = stores.map((s) => s.readBlockRecordBytes(h))
    if (!bytes.every((b) => Buffer.from(b).equals(bytes[0]!))) t.fail(`block ${h} differs between survivors`)
  }
  let missing = 0
  let lastPosition = -1
  let ordered = true
  for (const a of acked.sort((x, y) => x.i - y.i)) {
    if (a.result.kind !== 'committed') continue
    const ev = a.result.events[0]!
    const stored = stores[0]!.readEvents(ev.position, 1)[0]
    if (stored === undefined || !Buffer.from(encodeEvent(stored)).equals(encodeEvent(ev))) missing++
    if (ev.position < lastPosition) ordered = false // submitted 10 ms apart by one client, in order
    lastPosition = ev.position
  }
  t.equal(missing, 0, 'no acknowledged command missing or different in the ledger')
  t.comment(`ledger height ${height}; ordered by submission: ${ordered}`)
  t.ok(logs.slice(1).some((l) => l.some((x) => x.includes('new view'))), 'a new view was installed')
  for (const [k, store] of stores.entries()) {
    const heads = store.latestTreeHeads().filter((h) => h.treeSize >= treeSize)
    const valid = heads.filter((h) => verifyTreeHead(c, h))
    t.ok(valid.length >= 3, `replica ${k + 1} holds ${valid.length} valid tree heads (of replicas ${valid.map((h) => h.replica).join(',')}) covering all ${treeSize} events`)
  }
})

function verifyTreeHead(c: RunningCluster, h: SignedTreeHead): boolean {
  return crypto.slhDsaShake256f.verify(c.genesis.replicas[h.replica]!.identityPublicKey, treeHeadMessage(h), h.signature)
}

t.test('a replica that missed 1,000 blocks catches up; a rogue replica and a rogue client are ignored and logged', async (t) => {
  const logs: string[][] = [[], [], [], []]
  const c = await cluster(t, logs)
  const client = c.client({ retransmitMs: 500 })
  t.teardown(() => client.close())
  const w = makeWorkload(crypto, c.serviceKey)
  for (const s of w.setup) t.equal((await client.submit(s)).kind, 'committed')
  await c.kill(3, 'SIGKILL')

  // Replica 3's seat is taken by an impostor holding its keys: it sends forged, replayed and
  // malformed protocol messages to the others while they keep ordering commands.
  const keys = JSON.parse(readFileSync(join(c.dataDir, 'replica-3', 'keys.json'), 'utf8')) as { operationalSecretKey: string }
  const sk3 = fromBase64url(keys.operationalSecretKey)
  const rogueKeys = { self: { role: 'replica' as const, index: 3 }, secretKey: sk3, crypto, publicKeyOf: (p: { role: string; index?: number }) => p.role === 'replica' ? c.genesis.replicas[p.index!]!.operationalPublicKey : null }
  const rogue = await Promise.all([0, 1, 2].map((i) => dial({ host: '127.0.0.1', port: c.addresses[i]!.port, keys: rogueKeys, expect: { role: 'replica', index: i }, frameBytesMax: 1 << 20 })))
  const pk3 = genesisProtocolKeys(c.genesis, 3, sk3, crypto)
  let sent = 0
  const noise = setInterval(() => {
    const body: Body = { type: 'checkpoint', height: 64, blockHash: crypto.randomBytes(32) }
    const prepare: Body = { type: 'prepare', view: 0, height: 5, blockHash: crypto.randomBytes(32), proposalDigest: crypto.randomBytes(32) }
    const frames = [
      crypto.randomBytes(64), // not CBOR
      encodeSigned({ from: 3, body, sig: crypto.randomBytes(3309) }), // forged signature
      encodeSigned({ from: 1, body, sig: pk3.sign(encodeBody(body)) }), // claims to be replica 1
      encodeSigned({ from: 1, body: prepare, sig: new Uint8Array(0) }), // an unsigned prepare on another replica's behalf
      encodeSigned({ from: 3, body: { type: 'viewChange', newView: 7, committed: { height: 500, blockHash: crypto.randomBytes(32), headerView: 0, certificate: [] }, prepared: null, prePrepared: [] }, sig: crypto.randomBytes(3309) }),
    ]
    for (const ch of rogue) for (const f of frames) { ch.send(FrameTag.pbft, f); sent++ }
  }, 20)
  // A rogue client: plain TCP garbage, a TLS peer with an unknown key.
  const raw = netConnect(c.addresses[1]!.port, '127.0.0.1', () => raw.end(Buffer.from('GET / HTTP/1.1\r\n\r\n')))
  raw.on('error', () => {})
  const tlsRogue = tls.connect({ host: '127.0.0.1', port: c.addresses[2]!.port, rejectUnauthorized: false }, () => tlsRogue.write(Buffer.from([0, 0, 0, 5, 0, 1, 2, 3, 4])))
  tlsRogue.on('error', () => {})

  // 1,000+ blocks: one command per block (each awaited before the next).
  const t0 = Date.now()
  let committed = 0
  for (let i = 0; i < 1010; i++) if ((await client.submit(w.message(`gap ${i}`))).kind === 'committed') committed++
  clearInterval(noise)
  for (const ch of rogue) ch.close()
  t.equal(committed, 1010, `1,010 commands committed in ${Date.now() - t0} ms while being attacked`)
  await new Promise((r) => setTimeout(r, 1200)) // a stats report
  const s0 = c.stats(0)!
  t.ok(s0.badSignatures + s0.dropped > 0, `forged messages refused and counted (${s0.badSignatures} bad signatures, ${s0.dropped} dropped, ${sent} sent)`)
  const rejected = [0, 1, 2].reduce((n, i) => n + (c.stats(i)?.rejectedConnections ?? 0), 0)
  t.ok(rejected >= 1, `rogue connections refused (${rejected})`)
  const warnLines = logs.slice(0, 3).flat().filter((l) => l.includes('warn'))
  t.ok(warnLines.some((l) => l.includes('bad signature') || l.includes('claims to be') || l.includes('malformed')), 'refusals are logged')
  // At most a few lines per second per replica, however much garbage arrives.
  const noiseSeconds = (Date.now() - t0) / 1000
  t.ok(warnLines.length <= 3 * 5 * (noiseSeconds + 2), `logging is rate-limited (${warnLines.length} warning lines in ${noiseSeconds.toFixed(0)} s for ${sent} bad frames)`)

  // Replica 3 comes back 1,000 blocks behind and catches up by state transfer.
  const target = c.stats(0)!.height
  const back = Date.now()
  await c.start(3)
  for (let i = 0; i < 600 && (c.stats(3)?.height ?? -1) < target; i++) {
    if (i % 20 === 0) client.submit(w.message(`nudge ${i}`)).catch(() => {}) // live traffic meanwhile
    await new Promise((r) => setTimeout(r, 100))
  }
  t.ok((c.stats(3)?.height ?? -1) >= target, `replica 3 caught up to ${target} in ${Date.now() - back} ms (${c.stats(3)?.fetchedBlocks} blocks fetched)`)
  await c.stop()

  const stores = await Promise.all([0, 1, 2, 3].map((i) => readLedger(c.dataDir, i)))
  t.teardown(() => Promise.all(stores.map((s) => s.close())))
  const height = Math.min(...stores.map((s) => s.height))
  t.ok(height >= target, 'all four ledgers reach the target height')
  // Byte for byte: the block records (certificate kept apart), and each block with its agreed
  // certificate. Only the last block may still wait for its agreed certificate (the next
  // block's pre-prepare carries it); until then each replica holds its own proof.
  let sameRecords = 0
  let sameWithCertificate = 0
  let pending = 0
  for (let h = 0; h <= height; h++) {
    const records = stores.map((s) => s.readBlockRecordBytes(h))
    if (records.every((b) => Buffer.from(b).equals(records[0]!))) sameRecords++
    const agreed = stores.every((s) => s.certificateOf(h)?.agreed === true)
    if (!agreed) {
      pending++
      if (h < height) t.fail(`block ${h} of ${height}: no agreed certificate on every replica`)
      continue
    }
    const full = stores.map((s) => s.readBlockBytes(h))
    if (full.every((b) => Buffer.from(b).equals(full[0]!)) && stores[0]!.readBlock(h).certificate.length === 3) sameWithCertificate++
  }
  t.equal(sameRecords, height + 1, `blocks 0…${height}: block records byte-identical on all four replicas`)
  t.equal(sameWithCertificate + pending, height + 1, `blocks 0…${height}: byte-identical with their agreed certificates (${pending} still pending at the tip)`)
  t.ok(pending <= 1, 'only the tip may wait for its agreed certificate')
})

t.test('a burst beyond the client\'s send window: held back in order, all committed, in submission order', async (t) => {
  const logs: string[][] = [[], [], [], []]
  const c = await cluster(t, logs)
  const client = c.client({ retransmitMs: 500, deadlineMs: 30_000, windowMax: 8 })
  t.teardown(() => client.close())
  const w = makeWorkload(crypto, c.serviceKey)
  for (const s of w.setup) await client.submit(s)
  const count = 120
  let outMax = 0
  const results = await Promise.all(Array.from({ length: count }, (_, i) => client.submit(w.message(`burst ${i}`)).then((r) => {
    outMax = Math.max(outMax, client.queued().out)
    return r
  })))
  t.equal(results.filter((r) => r.kind === 'committed').length, count, `all ${count} committed`)
  t.ok(outMax <= 8, `never more than the window out at the replicas (${outMax})`)
  const heights = results.map((r) => (r.kind === 'committed' ? r.height : -1))
  t.ok(heights.every((h, i) => i === 0 || h >= heights[i - 1]!), 'each command in the same block as, or a later block than, the one submitted before it')
  t.ok(new Set(heights).size >= count / 8, `the window spreads them over blocks (${new Set(heights).size} blocks)`)
  t.same(client.queued(), { out: 0, held: 0 })
})

t.test('replica processes: capped young generation, fixed malloc settings, memory reported by kind', async (t) => {
  const logs: string[][] = [[], [], [], []]
  const c = await cluster(t, logs)
  const client = c.client({ retransmitMs: 500, deadlineMs: 30_000 })
  t.teardown(() => client.close())
  const w = makeWorkload(crypto, c.serviceKey)
  for (const s of w.setup) await client.submit(s)
  for (let i = 0; i < 20; i++) t.equal((await client.submit(w.message(`m ${i}`))).kind, 'committed')
  const pid = c.pid(0)!
  t.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=16'), 'the replica runs with the young-generation cap')
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  for (const [k, v] of Object.entries(mallocEnv)) t.ok(environ.includes(`${k}=${process.env[k] ?? v}`), `and with ${k} fixed`)
  await new Promise((r) => setTimeout(r, 1200)) // a stats line after the commands
  const stats = c.stats(0)!
  // What the cap bounds (new space ≤ 2 × 16 MB) needs minutes of load to show (the soak
  // bench); here only that each space is reported.
  t.ok(['new', 'old'].every((k) => (stats.memory!.spacesMB![k] ?? 0) > 0), `V8 spaces reported (${JSON.stringify(stats.memory!.spacesMB)})`)
  t.ok('liveMB' in stats.memory!, `heap used after the last full collection is reported (${stats.memory!.liveMB} MB, null before the first)`)
  t.ok(stats.sizes['results']! >= 20 && stats.sizes['resultsKB']! > 0, `kept results counted (${stats.sizes['results']}, ${stats.sizes['resultsKB']} KB)`)
  t.equal(stats.sizes['pending'], 0, 'nothing pending once all committed')
  t.ok(stats.sizes['recentCommandIds']! >= 20, 'the app reports its command-id window')
  t.ok(stats.sizes['inbound']! >= 3, 'the peers\' and the client\'s channels are counted')
})
