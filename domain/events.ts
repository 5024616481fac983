// The event catalog: every event type the domain emits, its payload type and JSON Schema.
// Events are JSON-shaped like commands (binary as strict base64url), so the web can push
// them to clients as they are. Stored encodings never change (STYLE rule 4).
import type { Schema } from './schemas.ts'
import { deviceEventSpecs, type DeviceEvent } from './device/events.ts'
import { messageEventSpecs, type MessageEvent } from './message/events.ts'
import { mlsEventSpecs, type MlsEvent } from './mls/events.ts'
import { nodeEventSpecs, type NodeEvent } from './node/events.ts'
import { threadEventSpecs, type ThreadEvent } from './thread/events.ts'
import { userEventSpecs, type UserEvent } from './user/events.ts'

export type StreamKind = 'user' | 'thread' | 'node'

export type EventOf<T extends string, P> = { readonly type: T; readonly payload: P }

export type EventSpec = { readonly stream: StreamKind; readonly payload: Schema }

export type DomainEvent = UserEvent | DeviceEvent | ThreadEvent | MessageEvent | MlsEvent | NodeEvent
export type EventType = DomainEvent['type']
export type EventByType<T extends EventType> = Extract<DomainEvent, { type: T }>

export const eventSpecs: { readonly [T in EventType]: EventSpec } = {
  ...userEventSpecs,
  ...deviceEventSpecs,
  ...threadEventSpecs,
  ...messageEventSpecs,
  ...mlsEventSpecs,
  ...nodeEventSpecs,
}

export const eventTypes: readonly EventType[] = Object.keys(eventSpecs) as EventType[]

export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && Object.hasOwn(eventSpecs, type)
}

/** The stream an event of this type goes to: 'user:<id>', 'thread:<id>' or 'node:<index>'. */
export function streamOf(kind: StreamKind, id: string | number): string {
  return `${kind}:${id}`
}
