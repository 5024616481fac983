// The benchmark baseline: a plain chat relay behind the same web front end. PostMessage
// skips consensus, the ledger and the projections: the bus gives the message a position
// from its own counter and publishes it on the thread's live channel, where the same ws
// hub forwards it to the members' sockets. Everything else (accounts, threads, MLS
// commits) still goes to `inner`, so the relay serves the same users and groups.
//
// What a relay keeps and Zixt adds: ingest's checks (schema, session, signature, rate
// limit, dedup) run for both; the relay drops ordering by PBFT, execution by the domain
// (membership and epoch checks), the fsynced hash-chained ledger and the MySQL read models.
// Not for production: nothing it relays is stored.
import type { Redis } from 'ioredis'
import { decode, type Value } from '../../domain/ledger/codec.ts'
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import { eventNotifications } from '../../projections/redis/notify.ts'
import type { CommandBus, CommandResult } from './types.ts'

export type RelayBus = CommandBus & {
  /** true: PostMessage is relayed; false: every command goes to `inner` (switch between runs). */
  relaying: boolean
  /** Messages relayed so far. */
  readonly relayed: () => number
}

export type RelayOptions = {
  readonly inner: CommandBus
  readonly redis: Redis
  readonly prefix: string
  readonly now?: () => number
  /** Positions handed out by the relay start here: far above any ledger position, so the hub's per-socket dedup never confuses them. */
  readonly firstPosition?: number
}

const ZERO_HASH = new Uint8Array(32)

export function relayBus(o: RelayOptions): RelayBus {
  const now = o.now ?? Date.now
  let next = o.firstPosition ?? 1_000_000_000_000
  let relayed = 0
  const bus: RelayBus = {
    name: 'relay',
    relaying: true,
    relayed: () => relayed,
    async send(bytes: Uint8Array): Promise<CommandResult> {
      if (!bus.relaying) return o.inner.send(bytes)
      // ingest validated these bytes already (parseSignedCommand): decode only
      const signed = decode(bytes) as { command: { type: string; id: string; author: string; keyId: string; payload: Record<string, Value> } }
      const c = signed.command
      if (c.type !== 'PostMessage') return o.inner.send(bytes)
      const position = next++
      const p = c.payload
      const event: EventEnvelope = {
        position, stream: `thread:${p['threadId'] as string}`, streamVersion: 0, prevHash: ZERO_HASH, type: 'MessagePosted',
        payload: { threadId: p['threadId']!, messageId: position, userId: c.author, deviceId: c.keyId, epoch: p['epoch']!, ciphertext: p['ciphertext']!, attachments: p['attachments']! },
        commandId: c.id, author: c.author, blockHeight: 0, time: now(),
      }
      const pipe = o.redis.pipeline()
      for (const [channel, message] of eventNotifications(o.prefix, event)) pipe.publish(channel, message)
      await pipe.exec()
      relayed++
      return { kind: 'committed', height: 0, events: [event] }
    },
    close: () => o.inner.close(),
  }
  return bus
}
