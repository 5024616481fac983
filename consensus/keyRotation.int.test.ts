// Operational key rotation on real replica processes: `zixt rotate-keys --replica 1` asks
// replica 1 to rotate; after the ReplicaKeyRotated block, certificates carry replica 1's
// signatures under the new key, replica 1 restarts with it and reconnects, and audit
// checks every certificate with the key valid at its height.
import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import type { Block } from '../domain/ledger/envelope.ts'
import { auditLedger } from '../ops/audit.ts'
import { main as rotateKeysCli } from '../ops/rotateKeys.ts'
import { startCluster } from './cluster.ts'
import { operationalKeyId, rotatedKeys } from './keys.ts'
import { LedgerStore } from './store/ledgerStore.ts'
import { makeWorkload } from './testing/workload.ts'

async function until<T>(what: string, f: () => T | false | Promise<T | false>, ms = 30_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const v = await f()
    if (v !== false) return v
  }
  throw new Error(`timed out: ${what}`)
}

t.test('replica 1 rotates its operational key; the cluster keeps committing, restarts and audits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zixt-rotation-'))
  const logs: string[][] = [[], [], [], []]
  const c = await startCluster({ dataDir: dir, replica: { viewTimeoutMs: 1000, rotateEveryBlocks: 0 }, onLog: (i, l) => logs[i]!.push(l) })
  t.teardown(async () => { await c.stop(); rmSync(dir, { recursive: true, force: true }) })
  const client = c.client({ retransmitMs: 500, deadlineMs: 30_000 })
  const w = makeWorkload(crypto, c.serviceKey)
  for (const s of w.setup) t.equal((await client.submit(s)).kind, 'committed', 'setup command committed')
  const oldKeyId = operationalKeyId(c.genesis.replicas[1]!.operationalPublicKey, crypto)

  t.equal(await rotateKeysCli(['--data', dir, '--replica', '1']), 0, 'rotate-keys --replica 1')
  await until('replica 1 publishes its rotated key', () => existsSync(join(dir, 'replica-1', 'operational-key.json')))
  for (let i = 0; i < 12; i++) t.equal((await client.submit(w.message(`after rotation ${i}`))).kind, 'committed', `command ${i} after the rotation committed`)

  const restartedAt = logs[1]!.length
  await c.kill(1)
  await c.start(1) // ready once connected to its peers (or after 3 s)
  await until('replica 1 reconnects to its peers', () => logs[1]!.slice(restartedAt).filter((l) => l.includes('connected to replica')).length >= 3 || false)
  const c2 = c.client({ retransmitMs: 500, deadlineMs: 30_000 }) // a new client authenticates replica 1 by its new key
  for (let i = 0; i < 12; i++) t.equal((await c2.submit(w.message(`after restart ${i}`))).kind, 'committed', `command ${i} after the restart committed`)
  await until('replica 1 catches up', () => (c.stats(1)?.height ?? -1) >= (c.stats(0)?.height ?? 0) || false).catch((e: unknown) => {
    throw new Error(`${String(e)}; heights ${[0, 1, 2, 3].map((i) => c.stats(i)?.height).join('/')}; replica 1 said:\n${logs[1]!.slice(-30).join('\n')}`)
  })
  client.close()
  c2.close()
  await c.stop()
  t.notOk(logs.flat().some((l) => l.includes('channel binding signature does not verify')), 'no channel refused for a stale key')

  let rotationHeight = -1
  let newKeyId = ''
  const signedBy = { old: 0, new: 0, oldAfter: 0 }
  for (let i = 0; i < 4; i++) {
    const store = await LedgerStore.open(join(dir, `replica-${i}`, 'ledger'), { hash: crypto.sha3_256 })
    try {
      for (let h = 0; h <= store.height; h++) {
        const b: Block = store.readBlock(h)
        const r = rotatedKeys(b.events).find((x) => x.replica === 1)
        if (r !== undefined) { rotationHeight = h; newKeyId = operationalKeyId(r.publicKey, crypto) }
        for (const s of b.certificate) {
          if (s.replica !== 1) continue
          if (rotationHeight >= 0 && h > rotationHeight) { if (s.keyId === newKeyId) signedBy.new++; else signedBy.oldAfter++ } else if (s.keyId === oldKeyId) signedBy.old++
        }
      }
      if (i === 0) {
        const report = await auditLedger(store, c.genesis, crypto)
        t.match(report, { problem: null }, 'audit passes on replica 0\'s ledger')
      }
    } finally {
      await store.close()
    }
  }
  t.ok(rotationHeight > 0, `ReplicaKeyRotated committed at height ${rotationHeight}`)
  t.ok(signedBy.new > 0, `blocks after the rotation carry replica 1's new-key signatures (${signedBy.new})`)
  t.equal(signedBy.oldAfter, 0, 'no certificate after the rotation carries replica 1\'s old key')
})
