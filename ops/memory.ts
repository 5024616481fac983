// Memory figures a Node process reports about itself (a replica's stats line, the bench's
// own process in the soak): committed size per V8 space, and the heap used just after the
// last full (mark-compact) collection — what is really alive. Heap used between full
// collections saws up with old garbage for minutes, so only that reading tells a leak from
// a collection not yet due.
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { getHeapSpaceStatistics } from 'node:v8'

/** Bytes as whole MB (2^20). */
export const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)

/** MB committed per V8 space (new, old, code, large_object, …). */
export function heapSpacesMB(): Record<string, number> {
  return Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mb(s.space_size)]))
}

/** Follows full collections; `mb` is the heap used right after the last one (null before the first). */
export function trackLiveHeap(): { readonly mb: number | null; stop(): void } {
  let live: number | null = null
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
    if (major) live = process.memoryUsage().heapUsed / 2 ** 20
  })
  observer.observe({ entryTypes: ['gc'] })
  return { get mb() { return live }, stop: () => observer.disconnect() }
}
