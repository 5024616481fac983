// The credential check behind GroupOptions.validateCredential: the chain
//   identity key (SLH-DSA) ──DeviceAdded/DeviceKeyRotated──▶ device key (ML-DSA-65)
//   ──mlsKeyCert in the credential──▶ the leaf's MLS signature key (ML-DSA-87)
// The first link is checked by the ledger (domain/user decide verifies the device
// certificate before DeviceAdded); the client takes the device key from the read model
// (the ledger's devices) and checks the second link here, for every leaf it meets.
import type { CryptoFacade } from '../../../../domain/crypto/types.ts'
import { verifyMlsKeyCertificate } from '../../../../domain/identity.ts'
import type { MemberIdentity, MlsKeyCertificate } from './identity.ts'

/** A device as the ledger knows it: its current ML-DSA-65 key and status. */
export type LedgerDevice = {
  readonly deviceId: string
  readonly publicKey: Uint8Array
  readonly status: 'active' | 'rotationDue' | 'expired' | 'revoked'
}

/** The user's devices in the ledger, or undefined for an unknown user. `fresh`: bypass any cache. */
export type DeviceDirectory = (userId: string, fresh: boolean) => Promise<readonly LedgerDevice[] | undefined>

export type CredentialVerdict =
  | { readonly kind: 'valid' }
  | { readonly kind: 'invalid'; readonly reason: 'noCertificate' | 'unknownDevice' | 'revokedDevice' | 'badCertificate'; readonly message: string }

/**
 * Valid when the user's device named in the credential is in the ledger, not revoked, and
 * its current key signed (userId, deviceId, signaturePublicKey, issuedAt). An expired or
 * rotation-due key still certifies: expiry limits what the device may submit to the ledger,
 * it does not make its past MLS leaves forgeries. A miss or a failed signature asks the
 * directory again with `fresh` once (a device added or a key rotated since the cache filled).
 */
export async function checkCredential(
  input: { readonly identity: MemberIdentity; readonly signaturePublicKey: Uint8Array; readonly certificate: MlsKeyCertificate | undefined },
  directory: DeviceDirectory,
  crypto: CryptoFacade,
): Promise<CredentialVerdict> {
  const { identity, certificate } = input
  const who = `${identity.userId}/${identity.deviceId}`
  if (certificate === undefined) return { kind: 'invalid', reason: 'noCertificate', message: `device ${who}: the MLS key carries no certificate` }
  let verdict: CredentialVerdict = { kind: 'valid' }
  for (const fresh of [false, true]) {
    const devices = await directory(identity.userId, fresh)
    verdict = verdictFor(input, certificate, devices?.find((d) => d.deviceId === identity.deviceId), who, crypto)
    if (verdict.kind === 'valid' || verdict.reason === 'revokedDevice') return verdict
  }
  return verdict
}

function verdictFor(
  input: { readonly identity: MemberIdentity; readonly signaturePublicKey: Uint8Array },
  certificate: MlsKeyCertificate,
  device: LedgerDevice | undefined,
  who: string,
  crypto: CryptoFacade,
): CredentialVerdict {
  if (device === undefined) return { kind: 'invalid', reason: 'unknownDevice', message: `device ${who} is not in the ledger` }
  if (device.status === 'revoked') return { kind: 'invalid', reason: 'revokedDevice', message: `device ${who} is revoked` }
  const ok = verifyMlsKeyCertificate(
    { ...input.identity, mlsSignaturePublicKey: input.signaturePublicKey, issuedAt: certificate.issuedAt, signature: certificate.signature },
    device.publicKey,
    crypto,
  )
  return ok ? { kind: 'valid' } : { kind: 'invalid', reason: 'badCertificate', message: `device ${who}: the MLS key certificate does not verify under the device's ledger key` }
}
