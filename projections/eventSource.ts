// Where projections read committed events from. ops/ wires it to the LedgerStore;
// tests wire it to an array. Only committed events may come out of it, in position order.
import type { EventEnvelope } from '../domain/ledger/envelope.ts'

export type EventSource = {
  /** Up to `limit` events from `fromPosition` on, in order; fewer (or none) at the head. */
  read(fromPosition: number, limit: number): EventEnvelope[] | Promise<EventEnvelope[]>
  /** Resolves once an event at `position` exists, or when `signal` aborts. */
  wait(position: number, signal: AbortSignal): Promise<void>
  /** Number of committed events (the next position); for lag reports. */
  head(): number | Promise<number>
}

/** An in-memory source over a growing array (tests, benchmarks). */
export class ArrayEventSource implements EventSource {
  readonly events: EventEnvelope[]
  private readonly waiters = new Set<() => void>()

  constructor(events: EventEnvelope[] = []) {
    this.events = events
  }

  append(...events: EventEnvelope[]): void {
    for (const e of events) {
      if (e.position !== this.events.length) throw new Error(`ArrayEventSource: position ${e.position} != ${this.events.length}`)
      this.events.push(e)
    }
    for (const w of [...this.waiters]) w()
  }

  read(fromPosition: number, limit: number): EventEnvelope[] {
    return this.events.slice(fromPosition, fromPosition + limit)
  }

  head(): number {
    return this.events.length
  }

  wait(position: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (position < this.events.length || signal.aborted) {
          this.waiters.delete(check)
          signal.removeEventListener('abort', check)
          resolve()
        }
      }
      this.waiters.add(check)
      signal.addEventListener('abort', check)
      check()
    })
  }
}
