// An event source that answers read(from) starting past `from` would have the runner apply
// the later events and lose the skipped one for good: the runner must refuse the batch.
import t from 'tap'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { ProjectionRunner } from './runner.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { rows } from './testing/given.ts'
import { createTestDb } from './testing/testDb.ts'
import { runInBackground } from './testing/background.ts'

const db = await createTestDb()
t.teardown(() => db.drop())

t.test('a source that skips the event asked for: the error names both positions, nothing is applied', async (t) => {
  const events = chatWorkload(300, { users: 8, threads: 4, seed: 9 })
  const inner = new ArrayEventSource([...events])
  const skip = 100
  const source = {
    read: (from: number, limit: number): EventEnvelope[] => inner.read(from === skip ? from + 1 : from, limit),
    head: () => inner.head(),
    wait: (position: number, signal: AbortSignal) => inner.wait(position, signal),
  }
  const runner = new ProjectionRunner({ source, connect: db.connect, projections: mysqlProjections, batchEvents: 50, backoffMs: { min: 20, max: 50 } })
  const stop = runInBackground(runner)
  for (let i = 0; i < 200 && (await runner.status()).lastError === null && (await runner.status()).position < events.length - 1; i++) await new Promise((r) => setTimeout(r, 25))
  await new Promise((r) => setTimeout(r, 200)) // a few retries
  const status = await runner.status()
  await stop()
  t.equal(status.lastError, `event source returned position ${skip + 1}, expected ${skip} (read from ${skip})`, 'status().lastError names both positions')
  t.equal(status.position, skip - 1, 'the runner stays before the skipped event')
  const conn = await db.connect()
  t.teardown(() => conn.end())
  const cps = await rows<{ position: number }>(conn, 'SELECT position FROM checkpoint_accounts UNION ALL SELECT position FROM checkpoint_conversations UNION ALL SELECT position FROM checkpoint_key_packages')
  t.same(cps.map((r) => Number(r.position)), [skip - 1, skip - 1, skip - 1], 'no checkpoint moved past the gap')
  const messages = await rows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM messages WHERE message_id > ?', [skip])
  t.equal(Number(messages[0]!.n), 0, 'no message after the gap was applied')
})
