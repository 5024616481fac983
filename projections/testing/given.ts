// given(events).then(rows): apply events through the real runner into a private database.
import type { Connection } from 'mysql2/promise'
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import { ArrayEventSource } from '../eventSource.ts'
import { mysqlProjections } from '../mysql/index.ts'
import { ProjectionRunner } from '../runner.ts'
import type { TestDb } from './testDb.ts'

/** Applies the events (in batches of `batchEvents`) and returns a connection to read the result. */
export async function project(db: TestDb, events: readonly EventEnvelope[], batchEvents = 1000): Promise<Connection> {
  const source = new ArrayEventSource([...events])
  let error: string | null = null
  const stop = new AbortController()
  const runner = new ProjectionRunner({
    source, connect: db.connect, projections: mysqlProjections, batchEvents,
    log: (line) => { error = line; stop.abort() }, // a test fails on the first error instead of retrying
  })
  await runner.run(stop.signal, events.length - 1)
  await runner.close()
  if (error !== null) throw new Error(error)
  return db.connect()
}

export async function rows<T = Record<string, unknown>>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await conn.query(sql, params)
  return r as T[]
}
