// Messages between the e2e/soak bench (parent: the system under test) and its load
// generator (child process, loadgen.ts). Times are ms since the epoch with sub-ms
// precision (performance.timeOrigin + performance.now()), comparable across processes.

export type SetupSpec = {
  readonly url: string
  readonly tag: string // username prefix, unique per run
  readonly threadSizes: readonly number[] // one MLS group per entry
  readonly sampleEvery: number // a checker decrypts 1 in this many messages of its thread
}

export type PhaseSpec = {
  readonly id: string
  readonly threadSize: number // messages go to the threads of this size, round-robin
  readonly rate: number // messages/s offered (open loop)
  readonly count: number
  readonly drainMs?: number
  readonly inFlightMax?: number
  readonly recordOrder?: boolean // soak: keep every received position per member
  readonly signLive?: boolean // sign each command when it is sent (runs longer than the clock-skew window)
}

export type ThreadInfo = { readonly threadId: string; readonly size: number; readonly epoch: number }

export type MessageRecord = {
  readonly seq: number
  readonly threadId: string
  readonly sender: string
  commandId: string
  sentAt: number
  answeredAt: number
  position: number // -1: not accepted
  error: string | null
  readonly received: number[] // ws receive time per member other than the sender, −1 = never
}

/**
 * reordered: samples the checker could not decrypt because a later message of the same sender
 * sits earlier in the ledger (the load generator sends each sender's messages concurrently,
 * which the browser client never does: it posts one at a time per thread). Not in `failed`.
 */
export type CheckResult = { readonly decrypted: number; readonly failed: number; readonly reordered: number; readonly problems: readonly string[] }

export type ToLoadgen =
  | { type: 'setup'; spec: SetupSpec }
  | { type: 'prepare'; phase: PhaseSpec }
  | { type: 'run'; phase: PhaseSpec; label: 'zixt' | 'relay' }
  | { type: 'check' }
  | { type: 'resetOrders' }
  | { type: 'getOrders' }
  | { type: 'exit' }

export type FromLoadgen =
  | { type: 'hello' }
  | { type: 'log'; line: string }
  | { type: 'error'; message: string }
  | { type: 'setupDone'; threads: ThreadInfo[] }
  | { type: 'prepared'; id: string }
  | { type: 'ran'; id: string; label: string; records: MessageRecord[]; inversions: number }
  | { type: 'checked'; result: CheckResult }
  | { type: 'orders'; orders: Record<string, Record<string, number[]>> }
