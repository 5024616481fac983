// Figures of one timed run (one phase through Zixt or through the relay) from the load
// generator's records and the bench's stage timestamps.
import { percentile, type StageTimes } from './harness.ts'
import type { MessageRecord } from './protocol.ts'

export type Dist = { readonly p50: number; readonly p95: number; readonly p99: number; readonly n: number }

export type RunFigures = {
  readonly phase: string
  readonly label: 'zixt' | 'relay'
  readonly threadSize: number
  readonly offered: number
  readonly sent: number
  readonly accepted: number
  readonly errors: Readonly<Record<string, number>>
  readonly sentPerS: number
  readonly committedPerS: number
  readonly deliveredPerS: number // messages delivered to every member / (last delivery − first send)
  readonly fullyDelivered: number
  readonly deliveriesMissing: number
  readonly latency: Dist // send → ws received, every (message, member other than the sender)
  readonly answer: Dist // send → HTTP answer (the sender's own round trip)
  readonly stages: Readonly<Record<'ingest' | 'consensus' | 'projection' | 'push', Dist>>
  /** Finer split: HTTP sent → ingest.submit (web: HTTP, session), ingest checks (→ bus), committed → HTTP answer (read-your-writes wait). */
  readonly detail: Readonly<Record<'http' | 'checks' | 'answer', Dist>>
  readonly inversions: number
  readonly from: number
  readonly to: number
}

export function dist(values: number[]): Dist {
  values.sort((a, b) => a - b)
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), n: values.length }
}

export function analyze(o: {
  phase: string; label: 'zixt' | 'relay'; threadSize: number; offered: number
  records: readonly MessageRecord[]; inversions: number
  stages: ReadonlyMap<number, StageTimes>; published: ReadonlyMap<number, number>
}): RunFigures {
  const rs = o.records
  const accepted = rs.filter((r) => r.position >= 0)
  const errors: Record<string, number> = {}
  for (const r of rs) if (r.error !== null) errors[r.error] = (errors[r.error] ?? 0) + 1
  const first = Math.min(...rs.map((r) => r.sentAt))
  const lastSent = Math.max(...rs.map((r) => r.sentAt))
  const lastAnswer = Math.max(...accepted.map((r) => r.answeredAt))
  const lat: number[] = []
  const ans: number[] = []
  const st = { ingest: [] as number[], consensus: [] as number[], projection: [] as number[], push: [] as number[] }
  const dt = { http: [] as number[], checks: [] as number[], answer: [] as number[] }
  let full = 0
  let missing = 0
  let lastDelivery = first
  for (const r of accepted) {
    ans.push(r.answeredAt - r.sentAt)
    const all = r.received.every((t) => t >= 0)
    if (all) full++
    const s = o.stages.get(r.position)
    const pub = o.published.get(r.position)
    if (s !== undefined) {
      st.ingest.push(s.submitted - r.sentAt)
      st.consensus.push(s.committed - s.submitted)
      dt.answer.push(r.answeredAt - s.committed)
      if (s.entered !== undefined) {
        dt.http.push(s.entered - r.sentAt)
        dt.checks.push(s.submitted - s.entered)
      }
      if (pub !== undefined) st.projection.push(pub - s.committed)
    }
    for (const t of r.received) {
      if (t < 0) { missing++; continue }
      lat.push(t - r.sentAt)
      if (pub !== undefined) st.push.push(t - pub)
      if (t > lastDelivery) lastDelivery = t
    }
  }
  return {
    phase: o.phase, label: o.label, threadSize: o.threadSize, offered: o.offered,
    sent: rs.length, accepted: accepted.length, errors,
    sentPerS: rs.length / Math.max(0.001, (lastSent - first) / 1000 + 1 / o.offered),
    committedPerS: accepted.length / Math.max(0.001, (lastAnswer - first) / 1000),
    deliveredPerS: full / Math.max(0.001, (lastDelivery - first) / 1000),
    fullyDelivered: full, deliveriesMissing: missing,
    latency: dist(lat), answer: dist(ans),
    stages: { ingest: dist(st.ingest), consensus: dist(st.consensus), projection: dist(st.projection), push: dist(st.push) },
    detail: { http: dist(dt.http), checks: dist(dt.checks), answer: dist(dt.answer) },
    inversions: o.inversions, from: first, to: Math.max(lastDelivery, lastAnswer),
  }
}
