// How account events (including admin actions) change the state.
import { fromBase64url } from '../encoding.ts'
import type { LedgerState, EvolveDeps, UserState } from '../state.ts'
import { updateUser } from '../state.ts'
import type { UserEvent } from './events.ts'
import { emailHash } from './decide.ts'

/** Admins that count for LAST_ADMIN: admin flag set and status active. */
const activeAdmin = (u: UserState): number => (u.admin && u.status === 'active' ? 1 : 0)

function withAdminCount(before: UserState, after: UserState, state: LedgerState): LedgerState {
  const delta = activeAdmin(after) - activeAdmin(before)
  return delta === 0 ? state : { ...state, adminCount: state.adminCount + delta }
}

/** Applies f to the user and keeps adminCount in step. */
function change(state: LedgerState, userId: string, f: (u: UserState) => UserState): LedgerState {
  const before = state.users.get(userId)!
  const next = updateUser(state, userId, f)
  return withAdminCount(before, next.users.get(userId)!, next)
}

function created(state: LedgerState, p: { userId: string; username: string; identityPublicKey: string; encryptedEmail: string }, admin: boolean, deps: EvolveDeps): LedgerState {
  const user: UserState = {
    userId: p.userId,
    username: p.username,
    identityPublicKey: fromBase64url(p.identityPublicKey),
    identityKeyVersion: 0,
    admin,
    status: 'active',
    emailHash: emailHash(p.encryptedEmail, deps.crypto),
    emailVerified: false,
    totpEnabled: false,
    devices: [],
    threads: [],
  }
  return {
    ...state,
    users: state.users.set(p.userId, user),
    usernames: state.usernames.set(p.username, p.userId),
    adminCount: state.adminCount + activeAdmin(user),
  }
}

export function evolveUser(state: LedgerState, event: UserEvent, deps: EvolveDeps): LedgerState {
  switch (event.type) {
    case 'UserRegistered': return created(state, event.payload, false, deps)
    case 'UserCreated': return created(state, event.payload, event.payload.admin, deps)
    case 'EmailVerified': return updateUser(state, event.payload.userId, (u) => ({ ...u, emailVerified: true }))
    case 'EmailChanged': {
      const hash = emailHash(event.payload.encryptedEmail, deps.crypto)
      return updateUser(state, event.payload.userId, (u) => ({ ...u, emailHash: hash, emailVerified: false }))
    }
    case 'UsernameChanged': {
      const { userId, username } = event.payload
      const old = state.users.get(userId)!.username
      const next = updateUser(state, userId, (u) => ({ ...u, username }))
      // a renamed user's old name is free again; a deleted user's name stays taken
      return { ...next, usernames: next.usernames.delete(old).set(username, userId) }
    }
    case 'TotpEnrolled': return updateUser(state, event.payload.userId, (u) => ({ ...u, totpEnabled: true }))
    case 'TotpRemoved': return updateUser(state, event.payload.userId, (u) => ({ ...u, totpEnabled: false }))
    case 'BackupCodesSet': return state // the codes live in the web store; nothing here depends on them
    case 'IdentityKeyRotated':
    case 'IdentityKeyReplaced': {
      const key = fromBase64url(event.payload.identityPublicKey)
      return updateUser(state, event.payload.userId, (u) => ({ ...u, identityPublicKey: key, identityKeyVersion: event.payload.keyVersion }))
    }
    case 'AdminGranted': return change(state, event.payload.userId, (u) => ({ ...u, admin: true }))
    case 'AdminRevoked': return change(state, event.payload.userId, (u) => ({ ...u, admin: false }))
    case 'UserDisabled': return change(state, event.payload.userId, (u) => ({ ...u, status: 'disabled' }))
    case 'UserEnabled': return change(state, event.payload.userId, (u) => ({ ...u, status: 'active' }))
    case 'AccountDeleted': return change(state, event.payload.userId, (u) => ({ ...u, status: 'deleted', admin: false, totpEnabled: false }))
  }
}
