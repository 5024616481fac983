// The e2e/soak HTML report: one self-contained page, charts as inline SVG drawn here (no
// scripts, no external resources), readable at a glance.
import type { RunFigures } from './analyze.ts'

type Cell = string | number | null
const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
const fmt = (n: Cell): string => (n === null || (typeof n === 'number' && !Number.isFinite(n)) ? '–' : typeof n === 'number' ? (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2)) : n)

export const COLORS = { zixt: '#2563eb', relay: '#9ca3af', ingest: '#f59e0b', consensus: '#dc2626', projection: '#7c3aed', push: '#059669', target: '#16a34a' } as const

function niceMax(v: number): number {
  if (!(v > 0)) return 1
  const e = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e
  return 10 * e
}

export type Series = { readonly name: string; readonly color: string; readonly points: readonly [number, number][]; readonly dashed?: boolean }

/** A line chart with dots; x and y axes from 0. */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: readonly Series[]; yMax?: number; hLine?: { y: number; label: string } }): string {
  const W = 520, H = 300, L = 60, R = 20, T = 36, B = 48
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite)
  const xMax = niceMax(Math.max(...xs, 1))
  const yMax = o.yMax ?? niceMax(Math.max(...ys, o.hLine?.y ?? 0, 1) * 1.05)
  const X = (x: number): number => L + (x / xMax) * (W - L - R)
  const Y = (y: number): number => H - B - (Math.min(y, yMax) / yMax) * (H - T - B)
  const out: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">`]
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`)
  for (let i = 0; i <= 5; i++) {
    const y = (yMax / 5) * i
    out.push(`<line x1="${L}" x2="${W - R}" y1="${Y(y)}" y2="${Y(y)}" stroke="#e5e7eb"/><text x="${L - 6}" y="${Y(y) + 4}" text-anchor="end">${fmt(y)}</text>`)
    const x = (xMax / 5) * i
    out.push(`<text x="${X(x)}" y="${H - B + 16}" text-anchor="middle">${fmt(x)}</text>`)
  }
  out.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#111"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#111"/>`)
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`)
  out.push(`<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`)
  if (o.hLine !== undefined) out.push(`<line x1="${L}" x2="${W - R}" y1="${Y(o.hLine.y)}" y2="${Y(o.hLine.y)}" stroke="${COLORS.target}" stroke-dasharray="6 4"/><text x="${W - R - 4}" y="${Y(o.hLine.y) - 4}" text-anchor="end" fill="${COLORS.target}">${esc(o.hLine.label)}</text>`)
  o.series.forEach((s, k) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]))
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''} points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`)
    for (const p of pts) out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(s.name)}: ${fmt(p[1])} at ${fmt(p[0])}</title></circle>`)
    out.push(`<rect x="${L + 10}" y="${T + 4 + k * 15}" width="10" height="10" fill="${s.color}"/><text x="${L + 24}" y="${T + 13 + k * 15}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('')
}

/** Horizontal stacked bars: one bar per row, one segment per part. */
export function stackedBars(o: { title: string; unit: string; rows: readonly { label: string; parts: readonly { name: string; value: number; color: string }[] }[] }): string {
  const W = 720, rowH = 26, L = 150, R = 90, T = 40
  const H = T + o.rows.length * rowH + 40
  const total = (r: (typeof o.rows)[number]): number => r.parts.reduce((a, p) => a + Math.max(0, p.value), 0)
  const max = niceMax(Math.max(...o.rows.map(total), 1))
  const X = (v: number): number => (v / max) * (W - L - R)
  const out: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">`]
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`)
  o.rows.forEach((r, i) => {
    const y = T + i * rowH
    out.push(`<text x="${L - 6}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text>`)
    let x = L
    for (const p of r.parts) {
      const w = X(Math.max(0, p.value))
      out.push(`<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${p.color}"><title>${esc(p.name)}: ${fmt(p.value)} ${o.unit}</title></rect>`)
      if (w > 28) out.push(`<text x="${(x + w / 2).toFixed(1)}" y="${y + 15}" text-anchor="middle" fill="#fff">${fmt(p.value)}</text>`)
      x += w
    }
    out.push(`<text x="${x + 4}" y="${y + 15}">${fmt(total(r))} ${o.unit}</text>`)
  })
  const legendY = T + o.rows.length * rowH + 14
  const names = [...new Map(o.rows.flatMap((r) => r.parts.map((p) => [p.name, p.color] as const))).entries()]
  names.forEach(([n, c], k) => out.push(`<rect x="${L + k * 120}" y="${legendY}" width="10" height="10" fill="${c}"/><text x="${L + 14 + k * 120}" y="${legendY + 9}">${esc(n)}</text>`))
  out.push('</svg>')
  return out.join('')
}

export function table(rows: readonly Record<string, Cell>[], highlight?: (col: string, v: Cell) => string | null): string {
  if (rows.length === 0) return '<p>(none)</p>'
  const cols = Object.keys(rows[0]!)
  const td = (c: string, v: Cell): string => {
    const cls = highlight?.(c, v) ?? null
    return `<td${typeof v === 'number' ? ' class="n"' : ''}${cls ? ` style="${cls}"` : ''}>${esc(fmt(v))}</td>`
  }
  return `<table><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${cols.map((c) => td(c, r[c] ?? null)).join('')}</tr>`).join('')}</tbody></table>`
}

export const STYLE = `body{font-family:system-ui,sans-serif;margin:24px;color:#111;max-width:1100px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px}th{background:#f3f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:16px}.box{border:1px solid #e5e7eb;padding:8px}.ok{color:#15803d;font-weight:bold}.bad{color:#b91c1c;font-weight:bold}ul{font-size:13px}.muted{color:#555;font-size:12px}`

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`
}

type E2eBody = {
  finishedAt: string
  environment: Record<string, unknown>
  options: { users: number; seconds: number; rates: number[]; sampleEvery: number; sizes: number[] }
  notes: string[]
  ratios: Record<string, Cell>[]
  cpu: { run: string; procs: Record<string, { cpu: number; rssMb: number }> }[]
  figures: RunFigures[]
}

export function renderReport(b: E2eBody): string {
  const g10 = (label: string) => b.figures.filter((f) => f.label === label && f.threadSize === 10).sort((x, y) => x.offered - y.offered)
  const thr = lineChart({
    title: 'Delivered messages/s vs offered load (10-member groups)', xLabel: 'offered messages/s', yLabel: 'messages/s delivered to every member',
    series: [
      { name: 'Zixt', color: COLORS.zixt, points: g10('zixt').map((f) => [f.offered, f.deliveredPerS]) },
      { name: 'relay baseline', color: COLORS.relay, points: g10('relay').map((f) => [f.offered, f.deliveredPerS]) },
      { name: 'offered', color: '#111', dashed: true, points: g10('zixt').map((f) => [f.offered, f.offered]) },
    ],
    hLine: { y: 500, label: 'target 500/s' },
  })
  const lat = lineChart({
    title: 'Send → delivered latency vs offered load (10-member groups)', xLabel: 'offered messages/s', yLabel: 'ms (log-free, clipped at the top)',
    series: [
      { name: 'Zixt p50', color: COLORS.zixt, points: g10('zixt').map((f) => [f.offered, f.latency.p50]) },
      { name: 'Zixt p99', color: COLORS.zixt, dashed: true, points: g10('zixt').map((f) => [f.offered, f.latency.p99]) },
      { name: 'relay p50', color: COLORS.relay, points: g10('relay').map((f) => [f.offered, f.latency.p50]) },
      { name: 'relay p99', color: COLORS.relay, dashed: true, points: g10('relay').map((f) => [f.offered, f.latency.p99]) },
    ],
    hLine: { y: 150, label: 'p99 target 150 ms @100/s' },
  })
  const stageRows = b.figures.map((f) => ({
    label: `${f.label} ${f.phase}`,
    parts: (['ingest', 'consensus', 'projection', 'push'] as const).map((s) => ({ name: s === 'consensus' && f.label === 'relay' ? 'consensus (relay: publish)' : s, value: f.stages[s].p50, color: COLORS[s] })),
  }))
  const stages = stackedBars({ title: 'Per-stage latency, medians (ms): ingest → consensus → projection → push', unit: 'ms', rows: stageRows })
  const rows = b.figures.map((f) => ({
    run: `${f.label} ${f.phase}`, members: f.threadSize, offered: f.offered, 'sent/s': f.sentPerS, 'committed/s': f.committedPerS, 'delivered/s': f.deliveredPerS,
    'p50 ms': f.latency.p50, 'p95 ms': f.latency.p95, 'p99 ms': f.latency.p99, 'HTTP answer p50': f.answer.p50,
    'ingest p50': f.stages.ingest.p50, 'consensus p50': f.stages.consensus.p50, 'projection p50': f.stages.projection.p50, 'push p50': f.stages.push.p50,
    'missing deliveries': f.deliveriesMissing, errors: Object.entries(f.errors).map(([k, v]) => `${k}×${v}`).join(' ') || '',
  }))
  const procNames = [...new Set(b.cpu.flatMap((c) => Object.keys(c.procs)))]
  const cpuRows = b.cpu.map((c) => Object.fromEntries([['run', c.run], ...procNames.map((n) => [n, c.procs[n] === undefined ? null : `${c.procs[n]!.cpu.toFixed(2)} cpu / ${c.procs[n]!.rssMb.toFixed(0)} MB`])]) as Record<string, Cell>)
  const noteHtml = b.notes.map((n) => `<li>${esc(n).replace(/\bMET\b/, '<span class="ok">MET</span>').replace(/NOT <span class="ok">MET<\/span>/, '<span class="bad">NOT MET</span>')}</li>`).join('')
  const env = b.environment
  return page('Zixt e2e benchmark', `
<h1>Zixt end-to-end benchmark vs a plain relay</h1>
<p class="muted">${esc(b.finishedAt)} · Node ${esc(String(env['node']))} · ${esc(String(env['cpus']))} cores (${esc(String(env['cpuModel']))}) · load average at the end ${esc(JSON.stringify(env['loadavg']))} · commit ${esc(String(env['commit']))} ·
${b.options.users} users in MLS groups of ${esc(b.options.sizes.join(', '))} · ${b.options.seconds} s per phase</p>
<ul>${noteHtml}</ul>
<h2>Zixt / relay baseline</h2>${table(b.ratios)}
<div class="charts"><div class="box">${thr}</div><div class="box">${lat}</div></div>
<h2>Where the time goes</h2>
<p class="muted">ingest = HTTP request sent → command handed to the bus (HTTP, session, schema, ML-DSA-65 signature, rate limit, dedup); consensus = bus → f+1 matching replies (PBFT, execution, fsync; relay: publish);
projection = committed → the thread notification seen on Redis (ledger mirror poll, MySQL transaction, publish; can be negative when replica 0 is ahead of the f+1 answer); push = Redis notification → ws frame received by a member.</p>
<div class="box">${stages}</div>
<h2>All runs</h2>${table(rows)}
<h2>CPU (1.0 = one core) and peak RSS per process</h2>${table(cpuRows)}
<h2>How this was measured</h2>
<ul><li>Whole stack from <code>startSystem()</code>: 4 replica processes (PBFT, ML-DSA-65, fsync per block), projection runner + ingest + web (Fastify/ws) in the bench process, MariaDB, Redis; load generator in its own process.</li>
<li>Messages are real MLS PrivateMessages (ciphersuite 0x0055, ML-DSA-87 signed inside), <b>encrypted before the timed phase</b> because pure-JS MLS costs ≈10 ms per encrypt and ≈5 ms per decrypt; each PostMessage is signed (ML-DSA-65) just before its phase and sent open loop.</li>
<li>Receivers match ws events by ledger position without decrypting; one checker member per group decrypts 1 in ${b.options.sampleEvery} messages after each phase, in ledger order, and checks it is the message sent at that position.</li>
<li>The baseline runs the same web front end, ingest checks and ws hub, with the relay bus (ingest/bus/relay.ts): no PBFT, no ledger, no projections; it relays the very same ciphertexts.</li>
<li>Rate limits per user and per IP are raised for the bench (all users come from 127.0.0.1 and post far above a person's rate).</li></ul>`)
}
