// npm run bench -- projections [--events N] [--batch N] [--audit-messages N]
// 1. Rebuild of N synthetic chat events (default 100,000) into MariaDB shadow tables and swap.
// 2. Audit of a real ledger (domain executor, ML-DSA certificates, SLH-DSA tree heads).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nativeCrypto } from '../../domain/crypto/native.ts'
import { treeHeadMessage } from '../../domain/ledger/treeHead.ts'
import { ArrayEventSource } from '../../projections/eventSource.ts'
import { mysqlProjections } from '../../projections/mysql/index.ts'
import { rebuild } from '../../projections/rebuild.ts'
import { chatWorkload } from '../../projections/testing/eventLog.ts'
import { createTestDb } from '../../projections/testing/testDb.ts'
import { auditLedger } from '../audit.ts'
import { openLedger } from '../ledgerSource.ts'
import { buildLedger } from '../testing/ledgerFixture.ts'
import { parseOptions, report, type Row } from './common.ts'

export async function main(args: string[]): Promise<number> {
  const o = parseOptions(args)
  const n = Number(o.get('events') ?? 100_000)
  const batch = Number(o.get('batch') ?? 5000)
  const auditMessages = Number(o.get('audit-messages') ?? 3000)
  const rows: Row[] = []

  const events = chatWorkload(n, { users: 200, threads: 100 })
  const db = await createTestDb()
  try {
    const source = new ArrayEventSource(events)
    const t0 = performance.now()
    const r = await rebuild({ source, connect: db.connect, projections: mysqlProjections, batchEvents: batch,
      onProgress: (p) => process.stderr.write(`\rrebuild: ${p.position + 1}/${p.head} ${Math.round(p.eventsPerSecond)} events/s `) })
    const s = (performance.now() - t0) / 1000
    process.stderr.write('\n')
    rows.push({ what: `rebuild ${n.toLocaleString('en-US')} events (batch ${batch})`, events: r.events, seconds: s, 'events/s': r.events / s })
  } finally {
    await db.drop()
  }

  const dir = mkdtempSync(join(tmpdir(), 'zixt-bench-audit-'))
  try {
    const f = await buildLedger(dir, { messages: auditMessages, perBlock: 100 })
    const store = await openLedger(f.ledgerDir)
    try {
      const r = await auditLedger(store, f.genesis, nativeCrypto)
      if (!r.ok) throw new Error(`audit of the fixture failed: ${JSON.stringify(r.problem)}`)
      rows.push({ what: `audit ${r.events} events, ${r.blocks} blocks (replay + certificates + roots)`, events: r.events, seconds: r.seconds, 'events/s': r.events / r.seconds })
      const th = store.latestTreeHeads()[0]!
      const pk = f.genesis.replicas[th.replica]!.identityPublicKey
      const msg = treeHeadMessage(th)
      const t0 = performance.now()
      let k = 0
      while (performance.now() - t0 < 2000) {
        if (!nativeCrypto.slhDsaShake256f.verify(pk, msg, th.signature)) throw new Error('tree head does not verify')
        k++
      }
      const ts = (performance.now() - t0) / 1000
      rows.push({ what: 'tree-head SLH-DSA-SHAKE-256f verifications', events: k, seconds: ts, 'events/s': k / ts })
    } finally {
      await store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  report('projections', rows, { options: { events: n, batch, auditMessages }, notes: ['rebuild: synthetic chat events (80% MessagePosted, 3 members per thread) into MariaDB; last row: signatures/s'] })
  return 0
}
