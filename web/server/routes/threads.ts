// The generic command route (every user action is a client-signed command) and the reads
// the chat needs, all from the projections.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SignedDomainCommand } from '../../../domain/command.ts'
import type { Auth, Ctx } from '../context.ts'
import { webError, WebError } from '../httpErrors.ts'
import { decryptEmail, encryptEmail } from '../secrets.ts'
import { mailFault, ownCommand, takeVerificationMailSlot } from './auth.ts'
import { body, intString, query, str } from './schemas.ts'

const ADMIN_TYPES: ReadonlySet<string> = new Set(['AdminCreateUser', 'AdminEditUser', 'AdminDisableUser', 'AdminEnableUser', 'AdminDeleteUser', 'AdminReplaceUserKey'])
const NOT_HERE: ReadonlySet<string> = new Set(['RegisterUser', 'AdminCreateUser', 'EnrolTotp', 'RemoveTotp', 'SetBackupCodes', 'BootstrapAdmin'])
const idParam = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }

/** After-effects of committed events the web owns: crypto-shredding, new verification mails, ending sessions. */
export async function afterCommit(ctx: Ctx, events: readonly { type: string; payload: Record<string, unknown> }[]): Promise<void> {
  for (const e of events) {
    const userId = e.payload['userId'] as string
    if (e.type === 'AccountDeleted') await ctx.store.shred(userId)
    if (e.type === 'DeviceRevoked') await ctx.sessions.deleteDevice(e.payload['deviceId'] as string)
    if (e.type === 'EmailChanged') {
      const key = await ctx.store.dataKey(userId)
      if (key === null) continue
      const enc = e.payload['encryptedEmail'] as string
      try {
        await ctx.sendVerification(userId, decryptEmail(key, enc, ctx.crypto), enc)
      } catch (err) {
        ctx.log(`mail: verification for ${userId} not sent: ${mailFault(err)}`)
      }
    }
  }
}

export async function submitAs(ctx: Ctx, a: Auth, command: unknown, check: (s: SignedDomainCommand) => void | Promise<void>) {
  const result = await ctx.committed(await ctx.d.ingest.submit(command, { authorize: async (s) => { ownCommand(a, s); await check(s) }, sessionDevice: a.device }))
  await afterCommit(ctx, result.events)
  return result
}

async function member(ctx: Ctx, req: FastifyRequest, threadId: string): Promise<Auth> {
  const a = await ctx.auth(req)
  const thread = await ctx.d.read.thread(threadId)
  if (thread === null) throw webError('ZIXT_ERR_THREAD_NOT_FOUND', `threadId: no thread '${threadId}'`)
  if (!(await ctx.d.read.isMember(threadId, a.user.userId))) throw webError('ZIXT_ERR_NOT_MEMBER', `threadId: not a member of '${threadId}'`)
  return a
}

/**
 * A message may only reference blobs its author uploaded or can already download: download
 * rights follow the messages that reference a blob (GET /api/blobs), so quoting a known blobId
 * in a thread of one's own would regain them.
 */
async function attachable(ctx: Ctx, a: Auth, attachments: readonly { readonly blobId: string }[]): Promise<void> {
  for (const [i, { blobId }] of attachments.entries()) {
    const mine = (await ctx.store.blobUploader(blobId)) === a.user.userId || (await ctx.d.read.blobVisibleTo(blobId, a.user.userId))
    if (!mine) throw webError(WebError.blobNotFound, `command.payload.attachments[${i}].blobId: no blob '${blobId}' for you (upload it first)`, { field: `command.payload.attachments[${i}].blobId` })
  }
}


const csv = (s: string | undefined, max: number, field: string): string[] => {
  const list = (s ?? '').split(',').filter((x) => x !== '')
  if (list.length > max) throw webError('ZIXT_ERR_SCHEMA', `${field}: at most ${max}`, { field })
  return list
}

export function threadRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.addHook('onClose', async () => ctx.close()) // the read-your-writes position subscription
  app.post('/api/commands', { schema: body({ command: { type: 'object' } }) }, async (req) => {
    const a = await ctx.auth(req)
    return submitAs(ctx, a, (req.body as { command: unknown }).command, async (s) => {
      if (NOT_HERE.has(s.command.type)) throw webError('ZIXT_ERR_WRONG_SIGNER', `command.type: ${s.command.type} has its own route (docs/api.md)`, { field: 'command.type' })
      if (ADMIN_TYPES.has(s.command.type) && !a.user.admin) throw webError('ZIXT_ERR_NOT_ADMIN', `${s.command.type}: admin only`)
      if (s.command.type === 'PostMessage') await attachable(ctx, a, s.command.payload.attachments)
      // every committed EmailChanged sends a verification mail (afterCommit): refused here, it leaves nothing in the ledger
      if (s.command.type === 'ChangeEmail') await takeVerificationMailSlot(ctx, a.user.userId, 'ChangeEmail: a verification mail was sent less than 60 s ago')
    })
  })

  app.post('/api/email/encrypt', { schema: body({ email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' } }, { userId: idParam }) }, async (req) => {
    const a = await ctx.auth(req)
    const b = req.body as { email: string; userId?: string }
    const target = b.userId ?? a.user.userId
    if (target !== a.user.userId && !a.user.admin) throw webError('ZIXT_ERR_NOT_ADMIN', 'userId: only admins encrypt for other users')
    const key = await ctx.store.dataKey(target)
    if (key === null) throw webError('ZIXT_ERR_USER_NOT_FOUND', `userId: no data key for '${target}'`)
    return { encryptedEmail: encryptEmail(key, b.email, ctx.crypto) }
  })

  app.get('/api/users/resolve', { schema: query({ usernames: str(0, 256 * 33) }) }, async (req) => {
    await ctx.auth(req)
    const names = csv((req.query as { usernames?: string }).usernames, 256, 'usernames')
    const users = await ctx.d.read.usersByUsernames(names)
    return { users: users.map((u) => ({ userId: u.userId, username: u.username })) }
  })

  app.get('/api/users/:userId', { schema: { params: { type: 'object', properties: { userId: idParam } } } }, async (req) => {
    await ctx.auth(req)
    const { userId } = req.params as { userId: string }
    const u = await ctx.d.read.userById(userId)
    if (u === null) throw webError('ZIXT_ERR_USER_NOT_FOUND', `userId: no user '${userId}'`)
    return { userId: u.userId, username: u.username, identityPublicKey: u.identityPublicKey, disabled: u.disabled, deleted: u.deleted, devices: (await ctx.d.read.devices(userId)).map(deviceJson) }
  })

  app.get('/api/me/devices', async (req) => {
    const a = await ctx.auth(req)
    return { devices: (await ctx.d.read.devices(a.user.userId)).map(deviceJson) }
  })

  app.get('/api/threads', { schema: query({ hidden: { type: 'string', enum: ['0', '1'] } }) }, async (req) => {
    const a = await ctx.auth(req)
    const h = (req.query as { hidden?: string }).hidden
    const threads = await ctx.d.read.threadsForUser(a.user.userId, h === undefined ? false : h === '1')
    const [members, unread] = await Promise.all([ctx.d.read.membersOf(threads.map((t) => t.threadId)), ctx.d.read.unread(a.user.userId)])
    return { threads: threads.map((t) => summary(t, members.get(t.threadId) ?? [], unread[t.threadId] ?? 0)) }
  })

  app.get('/api/threads/:threadId', { schema: { params: { type: 'object', properties: { threadId: idParam } } } }, async (req) => {
    const { threadId } = req.params as { threadId: string }
    const a = await member(ctx, req, threadId)
    const t = (await ctx.d.read.threadsForUser(a.user.userId, undefined)).find((x) => x.threadId === threadId)!
    const [members, unread] = await Promise.all([ctx.d.read.members(threadId), ctx.d.read.unread(a.user.userId)])
    return summary(t, members.map((m) => m.userId), unread[threadId] ?? 0)
  })

  app.get('/api/threads/:threadId/members', { schema: { params: { type: 'object', properties: { threadId: idParam } } } }, async (req) => {
    const { threadId } = req.params as { threadId: string }
    await member(ctx, req, threadId)
    const members = await ctx.d.read.members(threadId)
    const names = await ctx.d.read.usernames(members.map((m) => m.userId))
    return { members: members.map((m) => ({ ...m, username: names.get(m.userId) ?? null })) }
  })

  app.get('/api/threads/:threadId/messages', {
    schema: { params: { type: 'object', properties: { threadId: idParam } }, ...query({ before: intString, after: intString, limit: intString }) },
  }, async (req) => {
    const { threadId } = req.params as { threadId: string }
    await member(ctx, req, threadId)
    const q = req.query as { before?: string; after?: string; limit?: string }
    const limit = Math.min(100, Math.max(1, Number(q.limit ?? 50)))
    const after = q.after === undefined ? undefined : Number(q.after)
    const messages = await ctx.d.read.messages(threadId, { before: q.before === undefined ? undefined : Number(q.before), after, limit })
    const next = messages.length < limit ? null : messages.at(-1)!.messageId
    return { messages, next }
  })

  app.get('/api/threads/:threadId/mls', {
    schema: { params: { type: 'object', properties: { threadId: idParam } }, ...query({ fromEpoch: intString, limit: intString }) },
  }, async (req) => {
    const { threadId } = req.params as { threadId: string }
    await member(ctx, req, threadId)
    const q = req.query as { fromEpoch?: string; limit?: string }
    return { commits: await ctx.d.read.mlsCommits(threadId, Number(q.fromEpoch ?? 0), Math.min(100, Math.max(1, Number(q.limit ?? 100)))) }
  })

  app.get('/api/keypackages/:deviceId/:ref', { schema: { params: { type: 'object', properties: { deviceId: idParam, ref: { type: 'string', maxLength: 128 } } } } }, async (req) => {
    const a = await ctx.auth(req)
    const { deviceId, ref } = req.params as { deviceId: string; ref: string }
    const kp = await ctx.d.read.keyPackage(deviceId, ref)
    if (kp === null || (kp.claimedBy !== a.user.userId && kp.userId !== a.user.userId)) throw webError('ZIXT_ERR_NO_KEY_PACKAGE', 'no such claimed key package')
    const { claimedBy: _c, ...rest } = kp
    return rest
  })

  app.get('/api/presence', { schema: query({ userIds: str(0, 256 * 44) }) }, async (req) => {
    await ctx.auth(req)
    const ids = csv((req.query as { userIds?: string }).userIds, 256, 'userIds')
    if (ids.length === 0) return { online: [] }
    const vals = await ctx.d.redis.mget(ids.map((id) => `${ctx.prefix}presence:${id}`))
    return { online: ids.filter((_, i) => vals[i] !== null) }
  })
}

function deviceJson(d: Awaited<ReturnType<Ctx['d']['read']['devices']>>[number]) {
  const status = d.revoked ? 'revoked' : d.expired ? 'expired' : d.rotationDue ? 'rotationDue' : 'active'
  return { deviceId: d.deviceId, publicKey: d.publicKey, keyVersion: d.keyVersion, issuedAt: d.issuedAt, certificate: d.certificate, status }
}

function summary(t: Awaited<ReturnType<Ctx['d']['read']['threadsForUser']>>[number], members: string[], unread: number) {
  return {
    threadId: t.threadId, groupId: t.groupId, encryptedName: t.encryptedName, owner: t.ownerId, members, epoch: t.epoch, unread,
    lastPosition: t.lastActivityPosition, lastActivity: t.lastActivityTime, hidden: t.hidden,
  }
}

