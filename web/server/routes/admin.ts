// Admin API: admins sign admin commands in their browser; the route checks the admin flag in
// the read model too. No admin route returns message ciphertext or thread names.
import type { FastifyInstance } from 'fastify'
import type { Ctx } from '../context.ts'
import { webError } from '../httpErrors.ts'
import { decryptEmail, makeVerifier, passwordLengthMax, passwordLengthMin } from '../secrets.ts'
import { beginRegistration, completeRegistration, ownCommand } from './auth.ts'
import { body, intString, query, str } from './schemas.ts'
import { afterCommit } from './threads.ts'

const ADMIN_COMMANDS: ReadonlySet<string> = new Set(['AdminEditUser', 'AdminDisableUser', 'AdminEnableUser', 'AdminDeleteUser', 'AdminReplaceUserKey'])
const idParam = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }

export function adminRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.get('/api/admin/users', { schema: query({ after: idParam, limit: intString }) }, async (req) => {
    await ctx.requireAdmin(req)
    const q = req.query as { after?: string; limit?: string }
    const limit = Math.min(200, Math.max(1, Number(q.limit ?? 100)))
    const users = await ctx.d.read.listUsers(q.after, limit)
    const out = []
    for (const u of users) {
      const key = u.encryptedEmail === null ? null : await ctx.store.dataKey(u.userId)
      let email: string | null = null
      try {
        email = key === null || u.encryptedEmail === null ? null : decryptEmail(key, u.encryptedEmail, ctx.crypto)
      } catch {
        email = null // shredded or foreign ciphertext
      }
      out.push({ userId: u.userId, username: u.username, admin: u.admin, disabled: u.disabled, deleted: u.deleted, emailVerified: u.emailVerified, email, createdAt: u.createdTime, devices: u.devices })
    }
    return { users: out, next: users.length < limit ? null : users.at(-1)!.userId }
  })

  app.post('/api/admin/users/begin', { schema: body({ email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' } }) }, async (req) => {
    await ctx.requireAdmin(req)
    return beginRegistration(ctx, (req.body as { email: string }).email)
  })

  app.post('/api/admin/users', { schema: body({ registrationId: str(1, 64), password: str(1, 4096), command: { type: 'object' } }) }, async (req, reply) => {
    const a = await ctx.requireAdmin(req)
    const out = await completeRegistration(ctx, req.body as { registrationId: string; password: string; command: unknown }, {
      authorize: (s) => ownCommand(a, s, 'AdminCreateUser'),
    })
    reply.status(201)
    return { userId: out.userId, height: out.height }
  })

  app.post('/api/admin/commands', { schema: body({ command: { type: 'object' } }) }, async (req) => {
    const a = await ctx.requireAdmin(req)
    const result = await ctx.committed(await ctx.d.ingest.submit((req.body as { command: unknown }).command, {
      authorize: (s) => {
        ownCommand(a, s)
        if (!ADMIN_COMMANDS.has(s.command.type)) throw webError('ZIXT_ERR_WRONG_SIGNER', `command.type: ${s.command.type} is not an admin command`, { field: 'command.type' })
      },
    }))
    await afterCommit(ctx, result.events)
    return result
  })

  app.post('/api/admin/users/:userId/password', { schema: { params: { type: 'object', properties: { userId: idParam } }, ...body({ password: str(1, 4096) }) } }, async (req, reply) => {
    await ctx.requireAdmin(req)
    const { userId } = req.params as { userId: string }
    const { password } = req.body as { password: string }
    const n = [...password].length
    if (n < passwordLengthMin || n > passwordLengthMax) throw webError('ZIXT_ERR_PASSWORD_WEAK', `password: ${passwordLengthMin} to ${passwordLengthMax} characters`, { field: 'password' })
    const u = await ctx.d.read.userById(userId)
    if (u === null || u.deleted) throw webError('ZIXT_ERR_USER_NOT_FOUND', `userId: no user '${userId}'`)
    await ctx.store.setVerifier(userId, await makeVerifier(password, ctx.config.passwordCost, ctx.crypto), ctx.now())
    return reply.status(204).send()
  })
}
