// CPU and memory per process from /proc (Linux): utime+stime ticks from /proc/<pid>/stat,
// VmRSS from /proc/<pid>/status. A sampler keeps one sample per process per interval
// (bounded), so a phase's CPU share is Δticks / Δwall and RSS can be tracked over time.
import { readdirSync, readFileSync } from 'node:fs'

const TICKS_PER_S = 100 // USER_HZ on Linux

export type ProcSample = { readonly at: number; readonly cpuS: number; readonly rssMb: number; readonly heapUsedMb?: number; readonly heapTotalMb?: number; readonly externalMb?: number; readonly liveMb?: number; readonly detail?: Readonly<Record<string, number>> }

/** V8 heap figures of a Node process, where it reports them (its own process, a replica's stats line). */
export type HeapReading = { readonly usedMb: number; readonly totalMb: number; readonly externalMb: number; readonly liveMb?: number | null; readonly detail?: Readonly<Record<string, number>> }

export function readProc(pid: number): { cpuS: number; rssMb: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S // utime, stime (fields 14, 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    return { cpuS, rssMb: rss === null ? 0 : Number(rss[1]) / 1024 }
  } catch {
    return null // gone (a killed replica)
  }
}

/** Pids whose /proc/<pid>/comm is exactly `name` (read-only lookup of the database servers). */
export function pidsNamed(name: string): number[] {
  const out: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name) out.push(Number(d))
    } catch { /* exited */ }
  }
  return out
}

export class ProcSampler {
  readonly samples = new Map<string, ProcSample[]>()
  readonly #pids: () => Record<string, number | undefined>
  readonly #heaps: () => Record<string, HeapReading | undefined>
  #timer: NodeJS.Timeout | null = null
  readonly #maxSamples: number
  constructor(pids: () => Record<string, number | undefined>, o: { maxSamples?: number; heaps?: () => Record<string, HeapReading | undefined> } = {}) {
    this.#pids = pids
    this.#heaps = o.heaps ?? (() => ({}))
    this.#maxSamples = o.maxSamples ?? 20_000
  }
  sample(): void {
    const at = Date.now()
    const heaps = this.#heaps()
    for (const [name, pid] of Object.entries(this.#pids())) {
      if (pid === undefined) continue
      const r = readProc(pid)
      if (r === null) continue
      let list = this.samples.get(name)
      if (list === undefined) this.samples.set(name, (list = []))
      const heap = heaps[name]
      if (list.length < this.#maxSamples) list.push(heap === undefined ? { at, ...r } : { at, ...r, heapUsedMb: heap.usedMb, heapTotalMb: heap.totalMb, externalMb: heap.externalMb, ...(heap.liveMb == null ? {} : { liveMb: heap.liveMb }), detail: heap.detail })
    }
  }
  start(intervalMs: number): void {
    this.sample()
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.sample()
  }
  /** CPU share (1.0 = one core) and peak RSS of each process between two times. */
  window(from: number, to: number): Record<string, { cpu: number; rssMb: number }> {
    const out: Record<string, { cpu: number; rssMb: number }> = {}
    for (const [name, list] of this.samples) {
      const w = list.filter((s) => s.at >= from && s.at <= to)
      if (w.length < 2) continue
      // a restarted process restarts its tick counter: sum only the non-negative steps
      let cpu = 0
      for (let i = 1; i < w.length; i++) cpu += Math.max(0, w[i]!.cpuS - w[i - 1]!.cpuS)
      out[name] = { cpu: cpu / ((w[w.length - 1]!.at - w[0]!.at) / 1000), rssMb: Math.max(...w.map((s) => s.rssMb)) }
    }
    return out
  }
}
