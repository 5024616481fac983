// The live hub (ws/live.ts) through the whole stack: a socket that closes while its login is
// still being looked up, or while the hub joins its channels, leaves nothing behind (no
// connection, no channel, no presence); typing frames are passed on at most one per thread
// per connection every 2 s.
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { redisKeys } from '../../../projections/redis/keys.ts'
import { buildCommand, randomId } from '../../client/core/api/commands.ts'
import type { ServerMessage } from '../../client/core/api/live.ts'
import { crypto, startWebStack, waitFor, type TestUser, type WebStack } from '../fuzz/stack.ts'

t.setTimeout(240_000)
let s: WebStack
let alice: TestUser
let bob: TestUser
let threadId: string
t.before(async () => {
  // no account cache: every socket login reads the user and device through sessionAccount()
  s = await startWebStack({ tag: 'live', config: { authCacheMs: 0 } })
  alice = await s.register('alice')
  bob = await s.register('bob')
  threadId = randomId(crypto)
  await alice.api.submit(buildCommand('CreateThread', { threadId, groupId: randomId(crypto, 32), encryptedName: 'AAAA', members: [bob.userId] }, alice.keys, Date.now(), crypto))
})
t.teardown(async () => s?.stop())

const hub = () => s.sys.apps[0]!.hub
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
type Gate = { entered: Promise<void>; release(): void }
/** Replaces obj[key] (a method of the live app's own objects) by one that waits for release(). */
function gate<O extends object, K extends keyof O>(t: Test, obj: O, key: K): Gate {
  const real = obj[key] as (...a: unknown[]) => Promise<unknown>
  let release!: () => void
  let entered!: () => void
  const opened = new Promise<void>((r) => { release = r })
  const reached = new Promise<void>((r) => { entered = r })
  ;(obj as Record<K, unknown>)[key] = async function (this: unknown, ...a: unknown[]) {
    entered()
    await opened
    return real.apply(this, a)
  }
  const restore = (): void => { (obj as Record<K, unknown>)[key] = real }
  t.teardown(() => { restore(); release() })
  return { entered: reached, release: () => { restore(); release() } }
}

/** Opens a socket with the browser's session cookie, waits until the server is at `g`, closes it. */
async function closeWhileAt(u: TestUser, g: Gate): Promise<void> {
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/ws`, { headers: { cookie: u.api.cookieHeader() }, origin: s.url })
  ws.on('error', () => {})
  await g.entered
  const closed = new Promise<void>((r) => ws.on('close', () => r()))
  ws.close()
  await closed // the server answered the close frame: its close handler has run
  await sleep(100)
  g.release()
}

async function nothingLeft(t: Test, u: TestUser): Promise<void> {
  await sleep(1000) // the login's remaining lookups, hub.add and any tick
  t.equal(hub().conns.size, 0, 'no connection is left in the hub')
  t.same([...hub().byChannel.values()].filter((set) => set.size > 0).length, 0, 'no channel holds it')
  t.equal(await s.sys.redis.exists(redisKeys.presence(s.prefix, u.userId)), 0, 'the user is not shown online')
}

t.test('a socket closed while its session is being looked up is never added', async (t: Test) => {
  const ctx = hub().ctx
  await closeWhileAt(alice, gate(t, ctx, 'sessionAccount'))
  await nothingLeft(t, alice)
})

t.test('a socket closed while the hub joins its channels is taken out whole', async (t: Test) => {
  await closeWhileAt(alice, gate(t, hub().ctx.d.read, 'threadIdsForUser'))
  await nothingLeft(t, alice)
})

t.test('1,000 typing frames from one client reach the other member at most twice', async (t: Test) => {
  const aliceGot: ServerMessage[] = []
  const bobGot: ServerMessage[] = []
  const a = await s.live(alice, aliceGot)
  const b = await s.live(bob, bobGot)
  for (let i = 0; i < 1000; i++) a.typing(threadId)
  await waitFor('the first typing frame at Bob', () => bobGot.some((m) => m.type === 'typing'), 8000)
  a.ping('done')
  await waitFor('the pong after the typing frames', () => aliceGot.some((m) => m.type === 'pong'), 15_000)
  await sleep(500) // deliveries still on their way through Redis
  const typing = bobGot.filter((m) => m.type === 'typing')
  t.ok(typing.length >= 1 && typing.length <= 2, `Bob was told ${typing.length} time(s)`)
  t.same(typing[0], { type: 'typing', threadId, userId: alice.userId }, 'who types in which thread')
  t.notOk(aliceGot.some((m) => m.type === 'error'), 'the extra frames are dropped silently')
  a.close()
  b.close()
})
