// The MLS credential of a Zixt device: an RFC 9420 §5.3 basic credential whose
// identity bytes are the canonical encoding of { userId, deviceId }. One leaf per
// device; a user with three devices has three leaves in every thread's group.
import type { Credential } from 'ts-mls'
import { decode, encode } from '../../../../domain/ledger/codec.ts'
import { CodecError } from '../../../../domain/errors.ts'
import { MlsErrorCode, mlsError } from './errors.ts'

export type MemberIdentity = { readonly userId: string; readonly deviceId: string }

/** Longest user or device id we accept inside a credential (ids are short tokens). */
export const identityIdLengthMax = 128

function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > identityIdLengthMax) {
    throw mlsError(MlsErrorCode.malformed, `identity.${field} must be a string of 1..${identityIdLengthMax} characters`, { field })
  }
  return value
}

export function encodeIdentity(identity: MemberIdentity): Uint8Array {
  return encode({ userId: checkId('userId', identity.userId), deviceId: checkId('deviceId', identity.deviceId) })
}

/** Strict: exactly { deviceId, userId }, canonical bytes, both ids valid. */
export function decodeIdentity(bytes: Uint8Array): MemberIdentity {
  let v
  try {
    v = decode(bytes)
  } catch (e) {
    if (e instanceof CodecError) throw mlsError(MlsErrorCode.malformed, `credential identity: ${e.message}`)
    throw e
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw mlsError(MlsErrorCode.malformed, 'credential identity is not a map')
  }
  const keys = Object.keys(v)
  if (keys.length !== 2 || !('userId' in v) || !('deviceId' in v)) {
    throw mlsError(MlsErrorCode.malformed, `credential identity has fields [${keys.join(', ')}], want [deviceId, userId]`)
  }
  const rec = v as Record<string, unknown>
  return { userId: checkId('userId', rec['userId']), deviceId: checkId('deviceId', rec['deviceId']) }
}

export function credentialFor(identity: MemberIdentity): Credential {
  return { credentialType: 'basic', identity: encodeIdentity(identity) }
}

export function identityOfCredential(credential: Credential): MemberIdentity {
  if (credential.credentialType !== 'basic') {
    throw mlsError(MlsErrorCode.unsupported, `credential type ${credential.credentialType} is not basic`)
  }
  return decodeIdentity(credential.identity)
}

export function sameIdentity(a: MemberIdentity, b: MemberIdentity): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId
}
