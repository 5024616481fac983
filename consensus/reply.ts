// Client replies: one replica's outcome for one command. The client compares the encoded
// result bytes of f+1 replicas; the channel (bound to the replica's key) authenticates them.
import { decode, encode, type Value } from '../domain/ledger/codec.ts'
import type { CommandResult } from './app.ts'


export type Reply = { readonly commandId: string; readonly replica: number; readonly view: number; readonly result: Uint8Array }

export function resultToValue(r: CommandResult): Value {
  return r.kind === 'committed'
    ? { kind: r.kind, height: r.height, events: r.events.map((e) => ({ ...e }) as unknown as Value) }
    : { kind: r.kind, code: r.code, reason: r.reason }
}

export function encodeReply(commandId: string, result: CommandResult, view: number, replica: number): Uint8Array {
  return encode({ commandId, replica, view, result: encode(resultToValue(result)) })
}

export function decodeReply(bytes: Uint8Array): Reply {
  const v = decode(bytes) as { commandId?: Value; replica?: Value; view?: Value; result?: Value }
  if (typeof v.commandId !== 'string' || typeof v.replica !== 'number' || typeof v.view !== 'number' || !(v.result instanceof Uint8Array)) throw new Error('malformed reply')
  return { commandId: v.commandId, replica: v.replica, view: v.view, result: v.result }
}
