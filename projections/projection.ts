// A projection is an `evolve`-like function: (event, tx) → changes. It never writes on its
// own: it hands rows and statements to the Tx, and the runner owns the transaction, the
// batching into multi-row statements, the checkpoint and the retries (STYLE: Emmett).
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import type { EventType } from '../domain/events.ts'

export type SqlValue = string | number | boolean | null

export type Row = { readonly [column: string]: SqlValue }

/** What a projection may do inside the batch's transaction. */
export type Tx = {
  /** The physical name of a logical table (live or shadow during a rebuild). */
  t(table: string): string
  /**
   * Buffered INSERT of one row; rows with the same table, columns and `onDuplicate` are
   * sent as one multi-row statement. `onDuplicate` is the raw ON DUPLICATE KEY UPDATE list.
   */
  insert(table: string, row: Row, onDuplicate?: string): void
  /**
   * A buffered statement, run after the rows buffered before it. `tables`: every table it
   * reads or writes; rows for those tables buffered later are never sent before it.
   */
  exec(tables: string | readonly string[], sql: string, params: readonly SqlValue[]): void
  /** Runs everything buffered, then the query; use sparingly (it costs a round trip). */
  query<T = Record<string, SqlValue>>(sql: string, params: readonly SqlValue[]): Promise<T[]>
  /** Scratch state for this batch only (dropped on rollback): caches of rows already read. */
  readonly scratch: Map<string, unknown>
}

export type Projection = {
  readonly name: string // 'accounts'; checkpoint table checkpoint_<snake name>
  readonly tables: readonly string[] // owned tables, swapped together on rebuild
  readonly handles: ReadonlySet<EventType>
  /**
   * Called once per batch before `apply`, with the events it will get: load into tx.scratch
   * what `apply` would otherwise read row by row (one query instead of one per thread).
   */
  prepare?(events: readonly EventEnvelope[], tx: Tx): void | Promise<void>
  apply(event: EventEnvelope, tx: Tx): void | Promise<void>
  /** Called once per batch before commit: flush what was coalesced in tx.scratch. */
  finish?(tx: Tx): void | Promise<void>
}

export function checkpointTable(name: string): string {
  return 'checkpoint_' + name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())
}

/** The payload field as the type the event schema guarantees (validated at ingest and replay). */
export function str(e: EventEnvelope, key: string): string {
  const v = e.payload[key]
  if (typeof v !== 'string') throw new Error(`event ${e.position} ${e.type}: payload.${key} is not a string`)
  return v
}

export function num(e: EventEnvelope, key: string): number {
  const v = e.payload[key]
  if (typeof v !== 'number') throw new Error(`event ${e.position} ${e.type}: payload.${key} is not a number`)
  return v
}

export function optStr(e: EventEnvelope, key: string): string | null {
  const v = e.payload[key]
  return typeof v === 'string' ? v : null
}
