// `npm run bench -- web [--read-seconds 8] [--cell-seconds 15] [--connections 10]`: the whole
// system (4-replica cluster, projections, ingest, one web server) on this machine.
//   - read endpoints under autocannon with a logged-in session cookie: the thread list and a
//     50-message page (req/s, p50/p99);
//   - end-to-end message latency: Alice sends signed PostMessage commands over HTTP at an
//     offered rate (open loop, 50 and 200 messages/s) and Bob's ws receives each as a live
//     event; send → delivered p50/p99, bounded in time per cell.
import { createRequire } from 'node:module'
import { toBase64url } from '../../domain/encoding.ts'
import { buildCommand, randomId } from '../../web/client/core/api/commands.ts'
import type { ServerMessage } from '../../web/client/core/api/live.ts'
import { crypto, startWebStack, type TestUser, type WebStack } from '../../web/server/fuzz/stack.ts'
import { parseOptions, report, type Row } from './common.ts'

type AcResult = {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number; average: number }
  non2xx: number
  errors: number
  timeouts: number
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: { url: string; connections: number; duration: number; headers: Record<string, string> }) => Promise<AcResult>

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function readCell(s: WebStack, u: TestUser, name: string, path: string, seconds: number, connections: number): Promise<Row> {
  const r = await autocannon({ url: s.url + path, connections, duration: seconds, headers: { cookie: u.api.cookieHeader() } })
  return { run: name, offered: null, sent: r.requests.total, ok: r.requests.total - r.non2xx - r.errors, 'req/s': r.requests.average, p50ms: r.latency.p50, p99ms: r.latency.p99 }
}

/** Open loop at `rate` messages/s for `seconds`; each message timed from send to Bob's ws. */
async function latencyCell(alice: TestUser, got: Map<string, number>, threadId: string, rate: number, seconds: number): Promise<Row> {
  const count = Math.round(rate * seconds)
  const tag = toBase64url(crypto.randomBytes(6))
  const commands = Array.from({ length: count }, (_, i) => {
    const ciphertext = toBase64url(new TextEncoder().encode(`${tag}-${i}-${'x'.repeat(48)}`))
    return { ciphertext, command: buildCommand('PostMessage', { threadId, epoch: 0, ciphertext, attachments: [] }, alice.keys, Date.now(), crypto) }
  })
  const sentAt = new Map<string, number>()
  const pending: Promise<unknown>[] = []
  let failed = 0
  const t0 = performance.now()
  let next = 0
  for (let tick = 0; next < count && tick < 1_000_000; tick++) {
    const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate) + 1)
    for (; next < due; next++) {
      const c = commands[next]!
      sentAt.set(c.ciphertext, performance.now())
      pending.push(alice.api.submit(c.command).catch(() => { failed++ }))
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  await Promise.all(pending)
  const deadline = performance.now() + 10_000
  while (performance.now() < deadline && [...sentAt.keys()].some((k) => !got.has(k))) await new Promise((r) => setTimeout(r, 20))
  const latencies = [...sentAt].filter(([k]) => got.has(k)).map(([k, at]) => got.get(k)! - at).sort((a, b) => a - b)
  const ms = performance.now() - t0
  return { run: 'send → other member ws', offered: rate, sent: count, ok: latencies.length, 'req/s': (latencies.length / ms) * 1000, p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99), failed }
}

export async function main(args: string[]): Promise<number> {
  const o = parseOptions(args)
  const readSeconds = Number(o.get('read-seconds') ?? 8)
  const cellSeconds = Number(o.get('cell-seconds') ?? 15)
  const connections = Number(o.get('connections') ?? 10)
  const rates = (o.get('rates') ?? '50,200').split(',').map(Number)
  process.stdout.write('starting the whole system (cluster, projections, web)…\n')
  const s = await startWebStack({ tag: 'bench' })
  try {
    const alice = await s.register('alice')
    const bob = await s.register('bob')
    const threadId = randomId(crypto)
    await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, Date.now(), crypto))
    for (let i = 0; i < 10; i++) {
      const other = randomId(crypto)
      await alice.api.submit(buildCommand('CreateThread', { threadId: other, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, Date.now(), crypto))
    }
    await Promise.all(Array.from({ length: 60 }, (_, i) => alice.api.submit(buildCommand('PostMessage', {
      threadId, epoch: 0, ciphertext: toBase64url(crypto.randomBytes(200 + i)), attachments: [],
    }, alice.keys, Date.now(), crypto))))

    const rows: Row[] = []
    rows.push(await readCell(s, bob, 'GET /api/threads (11 threads)', '/api/threads', readSeconds, connections))
    rows.push(await readCell(s, bob, 'GET /api/threads/:id/messages (50)', `/api/threads/${threadId}/messages?limit=50`, readSeconds, connections))

    const got = new Map<string, number>()
    // timestamp each delivery the moment Bob's client sees it
    const sink = { push: (m: ServerMessage) => { if (m.type === 'event' && m.event.type === 'MessagePosted') got.set(m.event.payload['ciphertext'] as string, performance.now()) } }
    const live = await s.live(bob, sink as unknown as ServerMessage[])
    for (const rate of rates) rows.push(await latencyCell(alice, got, threadId, rate, cellSeconds))
    live.close()
    report('web', rows, {
      columns: ['run', 'offered', 'sent', 'ok', 'req/s', 'p50ms', 'p99ms', 'failed'],
      options: { readSeconds, cellSeconds, connections, rates },
      notes: [
        'reads: autocannon against one web process with a session cookie (every request re-checks the session in Redis and the device/user in MariaDB)',
        'latency: HTTP POST /api/commands (signed PostMessage) → ingest → PBFT (4 replica processes, fsync per block) → ledger → projections → Redis pub/sub → Bob\'s ws; ok = delivered within the cell + 10 s',
        'everything shares this machine\'s cores with the load generator',
      ],
    })
    return 0
  } finally {
    await s.stop()
  }
}
