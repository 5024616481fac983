// The ingest gate against real Redis: rate limit and command-id claim share one round trip,
// and a command refused before consensus (rate limit, bad signature, clock skew) leaves its id
// free, so the corrected or later retry goes through; a replay is refused once claimed.
import t from 'tap'
import { Redis } from 'ioredis'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { toBase64url } from '../domain/encoding.ts'
import { ZixtError } from '../domain/errors.ts'
import { newUserKeys } from '../domain/keyfile.ts'
import { buildCommand, randomId } from '../web/client/core/api/commands.ts'
import type { CommandBus } from './bus/types.ts'
import { createIngest } from './submit.ts'

const prefix = `zixt_test_ingest_${toBase64url(crypto.randomBytes(6)).replace(/[^a-zA-Z0-9]/g, 'x')}:`
const redis = new Redis('redis://127.0.0.1:6379')
t.teardown(async () => {
  const keys = await redis.keys(prefix + '*')
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

const keys = newUserKeys(crypto, 'ann')
const sent: Uint8Array[] = []
const bus: CommandBus = { name: 'test', send: async (b) => { sent.push(b); return { kind: 'committed', height: sent.length, events: [] } }, close: async () => {} }
const ingest = createIngest({
  bus, redis, prefix, crypto, now: () => Date.now(), rates: { commands: { limit: 4, windowS: 60 } },
  keys: {
    device: async (id) => id === keys.deviceId ? { userId: keys.userId, publicKey: toBase64url(keys.device.publicKey), issuedAt: Date.now(), revoked: false, expired: false } : null,
    user: async () => null,
    serviceKey: () => null,
  },
})
const createThread = (time = Date.now()) =>
  buildCommand('CreateThread', { threadId: randomId(crypto), groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [] }, keys, time, crypto)
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof ZixtError ? e.code : String(e)))
const claimed = async (c: { command: { id: string } }) => (await redis.exists(`${prefix}cmd:${c.command.id}`)) === 1

t.test('refusals before consensus leave the id free; a replay is refused once claimed', async (t) => {
  const good = createThread()
  const forged = { ...good, signature: toBase64url(crypto.randomBytes(3309)) }
  t.equal(await code(ingest.submit(forged)), 'ZIXT_ERR_BAD_SIGNATURE', 'a bad signature is refused')
  t.notOk(await claimed(good), 'and its id is not kept')
  const skewed = createThread(Date.now() - 60 * 60_000)
  t.equal(await code(ingest.submit(skewed)), 'ZIXT_ERR_CLOCK_SKEW', 'a command an hour old is refused')
  t.notOk(await claimed(skewed), 'and its id is not kept')
  t.equal(await code(ingest.submit(good)), 'ok', 'the genuine command with the forged one\'s id goes through')
  t.ok(await claimed(good), 'its id is claimed')
  t.equal(await code(ingest.submit(good)), 'ZIXT_ERR_DUPLICATE_COMMAND', 'its replay is refused')
  t.equal(sent.length, 1, 'one command reached the bus')
  const next = createThread()
  t.equal(await code(ingest.submit(next)), 'ZIXT_ERR_RATE_LIMITED', 'the 5th command in the window is over the limit of 4')
  t.notOk(await claimed(next), 'and its id is not kept: it can be sent again after the window')
  t.equal(await code(ingest.submit(good)), 'ZIXT_ERR_RATE_LIMITED', 'over the limit, a replay is refused as rate-limited first')
  t.ok(await claimed(good), 'without releasing the id the accepted command holds')
  t.equal(sent.length, 1)
})
