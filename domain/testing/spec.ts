// given / when / then for the domain (Emmett-style specs, STYLE "Tests"):
//
//   given(...active(alice, bob), threadCreated('t', alice, [bob]))
//     .when(byDevice(alice, 'PostMessage', { … }))
//     .then(t, { type: 'MessagePosted', payload: { … } })
//
// `when` runs the real executor (decode, schema, signature, decide, seal, evolve);
// `then` also checks that re-evolving the produced events from the given state gives
// the same state as executing the command did.
import type { Test } from 'tap'
import { decode } from '../ledger/codec.ts'
import type { EventDraft, EventEnvelope } from '../ledger/envelope.ts'
import { sealEvents } from '../ledger/event.ts'
import type { EventType } from '../events.ts'
import { applyEvents, executeCommand, type ExecuteResult, genesisState } from '../execute.ts'
import type { RejectionCode } from '../rejections.ts'
import type { LedgerState } from '../state.ts'
import { stateDigest } from './digest.ts'
import { crypto, T0, testGenesis } from './fixtures.ts'

export type Expected = { readonly type: EventType; readonly payload?: object; readonly stream?: string }
export type Given = EventDraft | readonly EventDraft[]

/** Seals drafts as one block at `time` on top of `state` and applies them. */
export function applyDrafts(state: LedgerState, drafts: readonly EventDraft[], time: number, label = 'given'): LedgerState {
  if (drafts.length === 0) return state
  const sealed = sealEvents(state.heads, drafts, {
    position: state.nextPosition, blockHeight: state.height + 1, time, commandId: `${label}-${state.nextPosition}`, author: label,
  }, crypto.sha3_256)
  return applyEvents(state, sealed.events, crypto)
}

export class Scenario {
  readonly state: LedgerState
  constructor(state: LedgerState) {
    this.state = state
  }

  /** More given events, at a later block time. */
  and(time: number, ...events: Given[]): Scenario {
    return new Scenario(applyDrafts(this.state, events.flat() as EventDraft[], time))
  }

  /** Executes the command bytes; the block time defaults to the command's own time. */
  when(command: Uint8Array, o: { readonly time?: number } = {}): Outcome {
    let time = o.time
    if (time === undefined) {
      let v: { command?: { time?: unknown } } = {}
      try {
        v = decode(command) as typeof v
      } catch {
        // not decodable: the executor will say so
      }
      time = typeof v.command?.time === 'number' ? v.command.time : Math.max(T0, this.state.time)
    }
    const result = executeCommand(this.state, command, { height: this.state.height + 1, time, position: this.state.nextPosition }, crypto)
    return new Outcome(this.state, result)
  }
}

export class Outcome {
  readonly before: LedgerState
  readonly result: ExecuteResult
  constructor(before: LedgerState, result: ExecuteResult) {
    this.before = before
    this.result = result
  }

  /** Accepted with exactly these events (payload and stream compared where given). */
  then(t: Test, ...expected: Expected[]): { state: LedgerState; events: EventEnvelope[] } {
    const r = this.result
    if (r.kind !== 'accepted') {
      t.fail(`expected acceptance, got ${r.code}: ${r.reason}`)
      return { state: this.before, events: [] }
    }
    t.same(r.events.map((e) => e.type), expected.map((e) => e.type), 'event types')
    expected.forEach((x, i) => {
      const e = r.events[i]
      if (e === undefined) return
      if (x.payload !== undefined) t.same(e.payload, x.payload, `${x.type} payload`)
      if (x.stream !== undefined) t.equal(e.stream, x.stream, `${x.type} stream`)
    })
    const replayed = applyEvents(this.before, r.events, crypto)
    t.equal(stateDigest(replayed, crypto), stateDigest(r.state, crypto), 're-evolving the events gives the same state')
    return { state: r.state, events: r.events }
  }

  /** Rejected with `code`, and a reason that mentions `reason` when given. */
  rejects(t: Test, code: RejectionCode, reason?: string | RegExp): void {
    const r = this.result
    if (r.kind !== 'rejected') {
      t.fail(`expected ${code}, but it was accepted with ${r.events.map((e) => e.type).join(', ')}`)
      return
    }
    t.equal(r.code, code, `code (${r.reason})`)
    if (reason !== undefined) t.match(r.reason, reason, 'reason names the problem')
  }

  /** The state after acceptance (to chain a further when). */
  get next(): Scenario {
    if (this.result.kind !== 'accepted') throw new Error(`not accepted: ${this.result.code} ${this.result.reason}`)
    return new Scenario(this.result.state)
  }
}

export function given(...events: Given[]): Scenario {
  return new Scenario(applyDrafts(genesisState(testGenesis().genesis), events.flat() as EventDraft[], T0))
}
