// The session's user/device cache (accountCache.ts) never lets a change through late: with
// the cache warm on two web nodes and a TTL far longer than the test, a disabled user, a
// revoked device (revoked outside the web's route, so no session clean-up ran) and a
// logged-out session are refused on both nodes right after the change commits. Only the
// projector's `accounts` notices can make these pass.
import t, { type Test } from 'tap'
import { buildCommand } from '../client/core/api/commands.ts'
import type { Ctx } from './context.ts'
import { errorCode, rawRequest } from './fuzz/http.ts'
import { crypto, startWebStack, waitFor, type TestUser, type WebStack } from './fuzz/stack.ts'

t.setTimeout(240_000)
let s: WebStack
t.before(async () => {
  s = await startWebStack({ tag: 'authcache', webProcesses: 2, config: { authCacheMs: 600_000 } })
})
t.teardown(async () => s?.stop())

const now = () => Date.now()
const ctx = (i: number): Ctx => (s.sys.apps[i] as unknown as { hub: { ctx: Ctx } }).hub.ctx
const sessionStatus = async (i: number, cookie: string): Promise<[number, string | null]> => {
  const r = await rawRequest(s.sys.urls[i]!, 'GET', '/api/session', { headers: { cookie } })
  return [r.status, errorCode(r)]
}

/** Both nodes answer the session from a warm cache (a look-up served without the read model). */
async function warm(t: Test, u: TestUser): Promise<string> {
  const cookie = u.api.cookieHeader()
  for (const i of [0, 1]) {
    t.same(await sessionStatus(i, cookie), [200, null], `${u.name}'s session works on node ${i}`)
    await waitFor(`node ${i}'s account notices subscribed`, () => ctx(i).accounts.live)
    await sessionStatus(i, cookie) // fills the cache if the first look-up ran before the subscription
    const hits = ctx(i).accounts.hits
    t.same(await sessionStatus(i, cookie), [200, null])
    t.ok(ctx(i).accounts.hits >= hits + 2, `node ${i} served ${u.name}'s user and device from its cache`)
  }
  return cookie
}

t.test('a user disabled by an admin is refused on every node as soon as the command answers', async (t) => {
  const root = await s.createAdmin('root')
  const bob = await s.register('bob')
  const cookie = await warm(t, bob)
  await root.api.adminCommand(buildCommand('AdminDisableUser', { userId: bob.userId }, root.keys, now(), crypto))
  t.same(await sessionStatus(0, cookie), [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'node 0 (which ran the command) refuses him')
  t.same(await sessionStatus(1, cookie), [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'node 1 refuses him too')
})

t.test('a device revoked outside the web (its sessions left in Redis) is refused once the projections show it', async (t) => {
  const carol = await s.register('carol')
  const cookie = await warm(t, carol)
  // as `zixt` tools or another node whose clean-up never ran: straight to ingest
  const revoke = buildCommand('RevokeDevice', { deviceId: carol.deviceId }, carol.keys, now(), crypto, { signer: 'identity' })
  const result = await s.sys.ingest.submit(revoke)
  t.equal(result.kind, 'committed', 'the revocation committed')
  const position = result.kind === 'committed' ? result.events.at(-1)!.position : -1
  // what a request that reads its own write waits for: the node has seen the projector's notice
  for (const i of [0, 1]) t.ok(await ctx(i).waitForPosition(position), `node ${i} saw the projections pass the revocation`)
  const token = /zixt_session=([^;]+)/.exec(cookie)![1]!
  t.not(await ctx(0).sessions.get(token), null, 'her session is still in Redis: only the device row can refuse it')
  t.same(await sessionStatus(0, cookie), [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'node 0 refuses the revoked device')
  t.same(await sessionStatus(1, cookie), [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'node 1 refuses it too')
})

t.test('a logged-out session is refused at once on the other node', async (t) => {
  const dave = await s.register('dave')
  const cookie = await warm(t, dave)
  await dave.api.logout()
  t.same(await sessionStatus(1, cookie), [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'node 1 refuses the old cookie')
  t.same(await sessionStatus(0, cookie), [401, 'ZIXT_ERR_UNAUTHENTICATED'], 'node 0 too')
})
