// Rules for admin commands: only a user who is an active admin at this ledger position
// may act (the first admin is bootstrapped by a service key while none exists), and the
// last active admin cannot be demoted, disabled or deleted.
import { assert } from '../assert.ts'
import { toBase64url } from '../encoding.ts'
import type { EventDraft } from '../ledger/envelope.ts'
import { accept, type Decision, draft, isRejected, reject, Rejection, type Rejected, userStream } from '../rejections.ts'
import type { DecideContext, LedgerState, UserState } from '../state.ts'
import { accountRemovalEvents, checkNewUser, emailHash, liveUser } from '../user/decide.ts'
import type {
  AdminCommand, AdminCreateUser, AdminDeleteUser, AdminDisableUser, AdminEditUser, AdminEnableUser, AdminReplaceUserKey, BootstrapAdmin,
} from './commands.ts'

function lastAdmin(state: LedgerState, user: UserState): Rejected | undefined {
  if (user.admin && user.status === 'active' && state.adminCount <= 1) {
    return reject(Rejection.lastAdmin, `payload.userId: user ${user.userId} is the last admin: make another admin first`)
  }
  return undefined
}

function bootstrap(cmd: BootstrapAdmin, ctx: DecideContext, by: string): Decision {
  if (ctx.state.adminCount > 0) return reject(Rejection.adminExists, 'an admin exists already: the first-admin bootstrap is closed')
  const bad = checkNewUser(ctx.state, cmd.payload, ctx.crypto, 'payload.userId')
  if (bad) return bad
  return accept(draft(userStream(cmd.payload.userId), 'UserCreated', { ...cmd.payload, admin: true, by }))
}

function createUser(cmd: AdminCreateUser, ctx: DecideContext, admin: UserState): Decision {
  const bad = checkNewUser(ctx.state, cmd.payload, ctx.crypto, 'payload.userId')
  if (bad) return bad
  return accept(draft(userStream(cmd.payload.userId), 'UserCreated', { ...cmd.payload, by: admin.userId }))
}

function editUser(cmd: AdminEditUser, ctx: DecideContext, admin: UserState): Decision {
  const user = liveUser(ctx.state, cmd.payload.userId)
  if (isRejected(user)) return user
  const p = cmd.payload
  const stream = userStream(user.userId)
  const by = admin.userId
  const events: EventDraft[] = []
  if (p.username !== undefined && p.username !== user.username) {
    if (ctx.state.usernames.has(p.username)) return reject(Rejection.usernameTaken, `payload.username: '${p.username}' is taken`)
    events.push(draft(stream, 'UsernameChanged', { userId: user.userId, username: p.username, by }))
  }
  if (p.encryptedEmail !== undefined && emailHash(p.encryptedEmail, ctx.crypto) !== user.emailHash) {
    events.push(draft(stream, 'EmailChanged', { userId: user.userId, encryptedEmail: p.encryptedEmail, by }))
  }
  if (p.admin !== undefined && p.admin !== user.admin) {
    if (!p.admin) {
      const last = lastAdmin(ctx.state, user)
      if (last) return last
    }
    events.push(draft(stream, p.admin ? 'AdminGranted' : 'AdminRevoked', { userId: user.userId, by }))
  }
  if (events.length === 0) return reject(Rejection.noChange, `payload: user ${user.userId} already has these values`)
  return accept(...events)
}

function setEnabled(cmd: AdminDisableUser | AdminEnableUser, ctx: DecideContext, admin: UserState): Decision {
  const user = liveUser(ctx.state, cmd.payload.userId)
  if (isRejected(user)) return user
  const disable = cmd.type === 'AdminDisableUser'
  if ((user.status === 'disabled') === disable) {
    return reject(Rejection.noChange, `payload.userId: user ${user.userId} is ${disable ? 'already disabled' : 'not disabled'}`)
  }
  if (disable) {
    const last = lastAdmin(ctx.state, user)
    if (last) return last
  }
  return accept(draft(userStream(user.userId), disable ? 'UserDisabled' : 'UserEnabled', { userId: user.userId, by: admin.userId }))
}

function deleteUser(cmd: AdminDeleteUser, ctx: DecideContext, admin: UserState): Decision {
  const user = liveUser(ctx.state, cmd.payload.userId)
  if (isRejected(user)) return user
  return accountRemovalEvents(ctx.state, user, admin.userId)
}

function replaceKey(cmd: AdminReplaceUserKey, ctx: DecideContext, admin: UserState): Decision {
  const user = liveUser(ctx.state, cmd.payload.userId)
  if (isRejected(user)) return user
  if (cmd.payload.identityPublicKey === toBase64url(user.identityPublicKey)) {
    return reject(Rejection.noChange, 'payload.identityPublicKey: same as the current identity key')
  }
  const stream = userStream(user.userId)
  return accept(
    draft(stream, 'IdentityKeyReplaced', {
      userId: user.userId, identityPublicKey: cmd.payload.identityPublicKey, keyVersion: user.identityKeyVersion + 1, by: admin.userId,
    }),
    ...user.devices.map((deviceId) => draft(stream, 'DeviceRevoked', { userId: user.userId, deviceId, reason: 'identityReplaced' })),
  )
}

export function decideAdmin(cmd: AdminCommand, ctx: DecideContext): Decision {
  const s = ctx.signer
  if (cmd.type === 'BootstrapAdmin') {
    assert(s.kind === 'service', 'BootstrapAdmin is service-signed')
    return bootstrap(cmd, ctx, s.keyId)
  }
  assert(s.kind === 'device', `${cmd.type} is device-signed`)
  const admin = s.user
  if (!admin.admin) return reject(Rejection.notAdmin, `command.author: user ${admin.userId} is not an admin`)
  switch (cmd.type) {
    case 'AdminCreateUser': return createUser(cmd, ctx, admin)
    case 'AdminEditUser': return editUser(cmd, ctx, admin)
    case 'AdminDisableUser':
    case 'AdminEnableUser': return setEnabled(cmd, ctx, admin)
    case 'AdminDeleteUser': return deleteUser(cmd, ctx, admin)
    case 'AdminReplaceUserKey': return replaceKey(cmd, ctx, admin)
  }
}
