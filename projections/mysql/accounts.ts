// Users, their identity keys, devices and device key history, replica key rotations.
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { EventType } from '../../domain/events.ts'
import { type Projection, type Tx, num, str } from '../projection.ts'

type Handler = (e: EventEnvelope, tx: Tx) => void

const setUser = (tx: Tx, e: EventEnvelope, assignments: string, params: (string | number | null)[]): void => {
  tx.exec('users', `UPDATE ${tx.t('users')} SET ${assignments}, position = ? WHERE user_id = ?`, [...params, e.position, str(e, 'userId')])
}
const flag = (column: string, value: 0 | 1): Handler => (e, tx) => setUser(tx, e, `${column} = ?`, [value])

function userCreated(e: EventEnvelope, tx: Tx): void {
  const p = e.payload
  const admin = p['admin'] === true ? 1 : 0
  const by = typeof p['by'] === 'string' ? p['by'] : null
  tx.insert('users', {
    user_id: str(e, 'userId'), username: str(e, 'username'), identity_public_key: str(e, 'identityPublicKey'),
    identity_key_version: 0, encrypted_email: str(e, 'encryptedEmail'), email_verified: 0, admin, disabled: 0, deleted: 0,
    totp: 0, backup_codes_count: 0, backup_codes_commitment: null, created_by: by,
    created_position: e.position, created_time: e.time, position: e.position,
  })
  tx.insert('identity_keys', {
    user_id: str(e, 'userId'), key_version: 0, public_key: str(e, 'identityPublicKey'), origin: 'initial',
    added_position: e.position, superseded_position: null, position: e.position,
  })
}

function identityKey(origin: 'rotated' | 'replaced'): Handler {
  return (e, tx) => {
    const userId = str(e, 'userId')
    const version = num(e, 'keyVersion')
    setUser(tx, e, 'identity_public_key = ?, identity_key_version = ?', [str(e, 'identityPublicKey'), version])
    tx.exec('identity_keys', `UPDATE ${tx.t('identity_keys')} SET superseded_position = ?, position = ? WHERE user_id = ? AND superseded_position IS NULL`,
      [e.position, e.position, userId])
    tx.insert('identity_keys', {
      user_id: userId, key_version: version, public_key: str(e, 'identityPublicKey'), origin,
      added_position: e.position, superseded_position: null, position: e.position,
    })
  }
}

function deviceKeyRow(e: EventEnvelope, version: number) {
  return {
    device_id: str(e, 'deviceId'), key_version: version, user_id: str(e, 'userId'), public_key: str(e, 'publicKey'),
    issued_at: num(e, 'issuedAt'), certificate: str(e, 'certificate'), added_position: e.position,
    rotation_due_position: null, expired_position: null, superseded_position: null, revoked_position: null, position: e.position,
  }
}

function deviceAdded(e: EventEnvelope, tx: Tx): void {
  tx.insert('devices', {
    device_id: str(e, 'deviceId'), user_id: str(e, 'userId'), key_version: 0, public_key: str(e, 'publicKey'),
    issued_at: num(e, 'issuedAt'), rotation_due: 0, expired: 0, revoked: 0, revoked_reason: null, revoked_position: null,
    added_position: e.position, position: e.position,
  })
  tx.insert('device_keys', deviceKeyRow(e, 0))
}

function deviceKeyRotated(e: EventEnvelope, tx: Tx): void {
  const deviceId = str(e, 'deviceId')
  const version = num(e, 'keyVersion')
  tx.exec('devices', `UPDATE ${tx.t('devices')} SET key_version = ?, public_key = ?, issued_at = ?, rotation_due = 0, expired = 0, position = ? WHERE device_id = ?`,
    [version, str(e, 'publicKey'), num(e, 'issuedAt'), e.position, deviceId])
  tx.exec('device_keys', `UPDATE ${tx.t('device_keys')} SET superseded_position = ?, position = ? WHERE device_id = ? AND superseded_position IS NULL AND key_version < ?`,
    [e.position, e.position, deviceId, version])
  tx.insert('device_keys', deviceKeyRow(e, version))
}

function deviceRevoked(e: EventEnvelope, tx: Tx): void {
  const deviceId = str(e, 'deviceId')
  tx.exec('devices', `UPDATE ${tx.t('devices')} SET revoked = 1, revoked_reason = ?, revoked_position = ?, position = ? WHERE device_id = ?`,
    [str(e, 'reason'), e.position, e.position, deviceId])
  tx.exec('device_keys', `UPDATE ${tx.t('device_keys')} SET revoked_position = ?, position = ? WHERE device_id = ? AND superseded_position IS NULL`,
    [e.position, e.position, deviceId])
}

function keyMark(kind: 'rotation_due' | 'expired'): Handler {
  return (e, tx) => {
    const deviceId = str(e, 'deviceId')
    const version = num(e, 'keyVersion')
    tx.exec('devices', `UPDATE ${tx.t('devices')} SET ${kind} = 1, position = ? WHERE device_id = ? AND key_version = ?`, [e.position, deviceId, version])
    tx.exec('device_keys', `UPDATE ${tx.t('device_keys')} SET ${kind}_position = ?, position = ? WHERE device_id = ? AND key_version = ?`,
      [e.position, e.position, deviceId, version])
  }
}

function replicaKeyRotated(e: EventEnvelope, tx: Tx): void {
  tx.insert('replica_keys', {
    replica: num(e, 'replica'), key_version: num(e, 'keyVersion'), operational_public_key: str(e, 'operationalPublicKey'),
    issued_at: num(e, 'issuedAt'), certificate: str(e, 'certificate'), block_height: e.blockHeight, position: e.position,
  })
}

const handlers: Partial<Record<EventType, Handler>> = {
  UserRegistered: userCreated,
  UserCreated: userCreated,
  EmailVerified: flag('email_verified', 1),
  EmailChanged: (e, tx) => setUser(tx, e, 'encrypted_email = ?, email_verified = 0', [str(e, 'encryptedEmail')]),
  UsernameChanged: (e, tx) => setUser(tx, e, 'username = ?', [str(e, 'username')]),
  TotpEnrolled: flag('totp', 1),
  TotpRemoved: flag('totp', 0),
  BackupCodesSet: (e, tx) => setUser(tx, e, 'backup_codes_count = ?, backup_codes_commitment = ?', [num(e, 'count'), str(e, 'commitment')]),
  IdentityKeyRotated: identityKey('rotated'),
  IdentityKeyReplaced: identityKey('replaced'),
  AdminGranted: flag('admin', 1),
  AdminRevoked: flag('admin', 0),
  UserDisabled: flag('disabled', 1),
  UserEnabled: flag('disabled', 0),
  // the web shreds the data key; the read model drops the ciphertext too
  AccountDeleted: (e, tx) => setUser(tx, e, 'deleted = 1, encrypted_email = NULL', []),
  DeviceAdded: deviceAdded,
  DeviceRevoked: deviceRevoked,
  DeviceKeyRotated: deviceKeyRotated,
  DeviceKeyRotationDue: keyMark('rotation_due'),
  DeviceKeyExpired: keyMark('expired'),
  ReplicaKeyRotated: replicaKeyRotated,
}

export const accountsProjection: Projection = {
  name: 'accounts',
  tables: ['users', 'identity_keys', 'devices', 'device_keys', 'replica_keys'],
  handles: new Set(Object.keys(handlers) as EventType[]),
  apply(event, tx) {
    handlers[event.type as EventType]?.(event, tx)
  },
}
