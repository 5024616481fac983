// The MLS credential of a Zixt device: an RFC 9420 §5.3 basic credential whose
// identity bytes are the canonical encoding of
//   { userId, deviceId, mlsKeyCert: { issuedAt, signature } }
// where `signature` is the device key's (ML-DSA-65, 3,309 bytes) certificate over the
// leaf's MLS signature key (domain/identity.ts signMlsKeyCertificate). The certified key
// itself is not repeated: it is the leaf's signature_key, so the verifier rebuilds the
// signed bytes from the leaf and a certificate moved to another key cannot verify.
// `{ userId, deviceId }` alone decodes too (the app's credential check rejects it).
// One leaf per device; a user with three devices has three leaves in every thread's group.
import type { Credential } from 'ts-mls'
import { decode, encode } from '../../../../domain/ledger/codec.ts'
import { CodecError } from '../../../../domain/errors.ts'
import { MlsErrorCode, mlsError } from './errors.ts'

export type MemberIdentity = { readonly userId: string; readonly deviceId: string }

/** The device key's certificate of an MLS signature key, as carried in the credential. */
export type MlsKeyCertificate = { readonly issuedAt: number; readonly signature: Uint8Array }

/** What a credential says: the device, and the certificate of its MLS signature key if any. */
export type CredentialContent = { readonly identity: MemberIdentity; readonly certificate: MlsKeyCertificate | undefined }

/** ML-DSA-65 signature bytes (FIPS 204 Table 2): the device key that certifies. */
export const mlsKeyCertSignatureBytes = 3309

/** Longest user or device id we accept inside a credential (ids are short tokens). */
export const identityIdLengthMax = 128

function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > identityIdLengthMax) {
    throw mlsError(MlsErrorCode.malformed, `identity.${field} must be a string of 1..${identityIdLengthMax} characters`, { field })
  }
  return value
}

export function encodeIdentity(identity: MemberIdentity, certificate?: MlsKeyCertificate): Uint8Array {
  const ids = { userId: checkId('userId', identity.userId), deviceId: checkId('deviceId', identity.deviceId) }
  if (certificate === undefined) return encode(ids)
  return encode({ ...ids, mlsKeyCert: { issuedAt: checkCertificate(certificate).issuedAt, signature: certificate.signature } })
}

function checkCertificate(c: MlsKeyCertificate): MlsKeyCertificate {
  if (!Number.isSafeInteger(c.issuedAt) || c.issuedAt < 0) throw mlsError(MlsErrorCode.malformed, `mlsKeyCert.issuedAt ${c.issuedAt} is not a non-negative integer`)
  if (!(c.signature instanceof Uint8Array) || c.signature.length !== mlsKeyCertSignatureBytes) {
    throw mlsError(MlsErrorCode.malformed, `mlsKeyCert.signature must be ${mlsKeyCertSignatureBytes} bytes`)
  }
  return c
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** Strict: exactly { deviceId, userId } or { deviceId, mlsKeyCert, userId }, canonical bytes, valid fields. */
export function decodeCredentialContent(bytes: Uint8Array): CredentialContent {
  let v
  try {
    v = decode(bytes)
  } catch (e) {
    if (e instanceof CodecError) throw mlsError(MlsErrorCode.malformed, `credential identity: ${e.message}`)
    throw e
  }
  if (!isMap(v)) throw mlsError(MlsErrorCode.malformed, 'credential identity is not a map')
  const keys = Object.keys(v).sort()
  const plain = keys.join(',') === 'deviceId,userId'
  if (!plain && keys.join(',') !== 'deviceId,mlsKeyCert,userId') {
    throw mlsError(MlsErrorCode.malformed, `credential identity has fields [${keys.join(', ')}], want [deviceId, mlsKeyCert?, userId]`)
  }
  const identity = { userId: checkId('userId', v['userId']), deviceId: checkId('deviceId', v['deviceId']) }
  if (plain) return { identity, certificate: undefined }
  const c = v['mlsKeyCert']
  if (!isMap(c) || Object.keys(c).sort().join(',') !== 'issuedAt,signature') {
    throw mlsError(MlsErrorCode.malformed, 'credential mlsKeyCert must be { issuedAt, signature }')
  }
  return { identity, certificate: checkCertificate({ issuedAt: c['issuedAt'] as number, signature: c['signature'] as Uint8Array }) }
}

export function decodeIdentity(bytes: Uint8Array): MemberIdentity {
  return decodeCredentialContent(bytes).identity
}

export function credentialFor(identity: MemberIdentity, certificate?: MlsKeyCertificate): Credential {
  return { credentialType: 'basic', identity: encodeIdentity(identity, certificate) }
}

export function contentOfCredential(credential: Credential): CredentialContent {
  if (credential.credentialType !== 'basic') {
    throw mlsError(MlsErrorCode.unsupported, `credential type ${credential.credentialType} is not basic`)
  }
  return decodeCredentialContent(credential.identity)
}

export function identityOfCredential(credential: Credential): MemberIdentity {
  return contentOfCredential(credential).identity
}

export function sameIdentity(a: MemberIdentity, b: MemberIdentity): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId
}
