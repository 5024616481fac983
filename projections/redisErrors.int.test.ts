// A Redis pipeline whose commands fail (here: the runner's Redis user may not PUBLISH for a
// while, a real ACL on the real server) still resolves in ioredis, one [error, reply] per
// command. The runner must treat it as failed: report it, keep the publish checkpoint before
// that batch, and publish the batch's notifications on a later round (at least once).
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { ArrayEventSource } from './eventSource.ts'
import { mysqlProjections } from './mysql/index.ts'
import { redisKeys } from './redis/keys.ts'
import { positionChannel, ProjectionRunner } from './runner.ts'
import { chatWorkload } from './testing/eventLog.ts'
import { createTestDb, testRedisPrefix } from './testing/testDb.ts'
import { runInBackground } from './testing/background.ts'

const admin = new Redis('redis://127.0.0.1:6379')
const db = await createTestDb()
const prefix = testRedisPrefix()
const user = 'zixt_test_' + randomBytes(6).toString('hex')
const password = randomBytes(16).toString('hex')
await admin.call('ACL', 'SETUSER', user, 'reset', 'on', '>' + password, '~*', '&*', '+@all')
t.teardown(async () => {
  await admin.call('ACL', 'DELUSER', user)
  const keys = await admin.keys(prefix + '*')
  if (keys.length > 0) await admin.del(...keys)
  admin.disconnect()
  await db.drop()
})

const until = async (what: string, ok: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await ok()) return true
    await new Promise((r) => setTimeout(r, 10))
  }
  return false
}

t.test('a batch whose PUBLISHes failed is reported and published on a later round', async (t) => {
  const events = chatWorkload(400, { users: 8, threads: 4, seed: 31 })
  const split = 300
  const source = new ArrayEventSource(events.slice(0, split))
  const redis = new Redis({ host: '127.0.0.1', port: 6379, username: user, password })
  const listener = new Redis('redis://127.0.0.1:6379')
  t.teardown(() => {
    redis.disconnect()
    listener.disconnect()
  })
  const seen = new Set<number>()
  let noticed = -1
  await listener.psubscribe(`${prefix}thread:*`, `${prefix}user:*`)
  await listener.subscribe(positionChannel(prefix))
  listener.on('pmessage', (_p, ch: string, msg: string) => {
    const m = JSON.parse(msg) as { kind: string; position: number; stream?: string }
    if (m.kind === 'event' && ch === `${prefix}${m.stream}`) seen.add(m.position)
  })
  listener.on('message', (_ch, msg: string) => { noticed = Number(msg) })
  const runner = new ProjectionRunner({ source, connect: db.connect, projections: mysqlProjections, redis, redisPrefix: prefix, batchEvents: 200, backoffMs: { min: 20, max: 100 } })
  t.teardown(runInBackground(runner))
  t.ok(await until('caught up', () => noticed === split - 1), 'caught up before the failure')

  await admin.call('ACL', 'SETUSER', user, '-publish') // every PUBLISH now answers NOPERM; SET, EVAL still run
  source.append(...events.slice(split))
  let lastError: string | null = null
  await until('the batch is committed and the failure reported', async () => {
    const s = await runner.status()
    lastError = s.lastError
    return s.position === events.length - 1 && s.lastError !== null
  }, 3000)
  t.match(lastError, /NOPERM/, `status().lastError reports the failed pipeline: ${lastError}`)
  t.equal(Number(await admin.get(redisKeys.publishCheckpoint(prefix))), split - 1, 'the publish checkpoint stays before the failed batch')

  await admin.call('ACL', 'SETUSER', user, '+publish')
  const expected = events.slice(split).filter((e) => e.stream.startsWith('thread:') || e.stream.startsWith('user:')).map((e) => e.position)
  await until('republished', () => expected.every((p) => seen.has(p)) && noticed === events.length - 1)
  t.same(expected.filter((p) => !seen.has(p)), [], `every notification of the failed batch was published on a later round (${expected.length})`)
  t.equal(noticed, events.length - 1, 'the position notice followed')
  t.equal(Number(await admin.get(redisKeys.publishCheckpoint(prefix))), events.length - 1, 'the publish checkpoint is at the head')
  t.ok(await until('error cleared', async () => (await runner.status()).lastError === null), 'the error cleared')
})
