// Who a key belongs to: user and device ids derived from public keys, human-comparable
// fingerprints, and the device certificate by which an identity key vouches for a device key.
// Ids are fixed by the FIRST key (docs/domain.md) and stay when keys rotate, so certificate
// functions take the ids as inputs instead of re-deriving them from the current keys.
import type { CryptoFacade } from './crypto/types.ts'
import { checkLength } from './crypto/check.ts'
import { mlDsa65Sizes, mlDsa87Sizes, slhDsaShake256fSizes } from './crypto/params.ts'
import { concatBytes, fromBase64url, toBase64url, toHex, utf8Encode } from './encoding.ts'
import { encode } from './ledger/codec.ts'
import type { DeviceCertificate } from './user/commands.ts'

export const USER_ID_DOMAIN = 'zixt/user-id/v1'
export const DEVICE_ID_DOMAIN = 'zixt/device-id/v1'
export const DEVICE_CERT_CONTEXT = 'zixt/device-cert/v1'

/** Bytes of a fingerprint: 160 bits, as OpenPGP v4 fingerprints, enough to compare by eye. */
export const FINGERPRINT_BYTES = 20

const userIdDomain = utf8Encode(USER_ID_DOMAIN)
const deviceIdDomain = utf8Encode(DEVICE_ID_DOMAIN)
const deviceCertContext = utf8Encode(DEVICE_CERT_CONTEXT)

/**
 * user id = base64url(SHA3-256("zixt/user-id/v1" || identityPublicKey)): all 32 bytes, 43
 * characters, as domain/schemas.ts userIdSchema requires (a 22-character text prefix would
 * not be canonical base64url: its last character carries data bits).
 */
export function userIdFor(identityPublicKey: Uint8Array, crypto: CryptoFacade): string {
  checkLength('identityPublicKey', identityPublicKey, slhDsaShake256fSizes.publicKeyBytes)
  return toBase64url(crypto.sha3_256(concatBytes(userIdDomain, identityPublicKey)))
}

/** device id = base64url(SHA3-256("zixt/device-id/v1" || devicePublicKey)), 43 characters. */
export function deviceIdFor(devicePublicKey: Uint8Array, crypto: CryptoFacade): string {
  checkLength('devicePublicKey', devicePublicKey, mlDsa65Sizes.publicKeyBytes)
  return toBase64url(crypto.sha3_256(concatBytes(deviceIdDomain, devicePublicKey)))
}

/** First 20 bytes of SHA3-256(publicKey), upper-case hex in groups of four: "3F2A 9C01 …" (10 groups). */
export function fingerprint(publicKey: Uint8Array, crypto: CryptoFacade): string {
  const hex = toHex(crypto.sha3_256(publicKey).subarray(0, FINGERPRINT_BYTES)).toUpperCase()
  return hex.match(/.{4}/g)!.join(' ')
}

export type DeviceCertificateInput = {
  readonly userId: string
  readonly deviceId: string
  readonly devicePublicKey: Uint8Array // ML-DSA-65
  readonly issuedAt: number // ms since the epoch
}

/** The signed bytes: encode({ userId, deviceId, devicePublicKey (base64url), issuedAt }). */
export function deviceCertificateBytes(input: DeviceCertificateInput): Uint8Array {
  return encode({
    userId: input.userId,
    deviceId: input.deviceId,
    devicePublicKey: toBase64url(input.devicePublicKey),
    issuedAt: input.issuedAt,
  })
}

/** The identity key (SLH-DSA-SHAKE-256f) certifies a device key under context 'zixt/device-cert/v1'. */
export function signDeviceCertificate(
  input: DeviceCertificateInput & { readonly identitySecretKey: Uint8Array },
  crypto: CryptoFacade,
): DeviceCertificate {
  checkLength('devicePublicKey', input.devicePublicKey, mlDsa65Sizes.publicKeyBytes)
  const signature = crypto.slhDsaShake256f.sign(input.identitySecretKey, deviceCertificateBytes(input), deviceCertContext)
  return {
    deviceId: input.deviceId,
    publicKey: toBase64url(input.devicePublicKey),
    issuedAt: input.issuedAt,
    certificate: toBase64url(signature),
  }
}

/**
 * True when `identityPublicKey` signed this certificate for `userId`. Anything malformed in
 * the certificate (it comes from the network) is `false`; a malformed identity key throws.
 */
export function verifyDeviceCertificate(
  certificate: DeviceCertificate,
  signer: { readonly userId: string; readonly identityPublicKey: Uint8Array },
  crypto: CryptoFacade,
): boolean {
  checkLength('identityPublicKey', signer.identityPublicKey, slhDsaShake256fSizes.publicKeyBytes)
  let devicePublicKey: Uint8Array
  let signature: Uint8Array
  try {
    devicePublicKey = fromBase64url(certificate.publicKey, 'publicKey')
    signature = fromBase64url(certificate.certificate, 'certificate')
  } catch {
    return false
  }
  if (devicePublicKey.length !== mlDsa65Sizes.publicKeyBytes) return false
  if (typeof certificate.deviceId !== 'string' || !Number.isSafeInteger(certificate.issuedAt)) return false
  const bytes = deviceCertificateBytes({
    userId: signer.userId,
    deviceId: certificate.deviceId,
    devicePublicKey,
    issuedAt: certificate.issuedAt,
  })
  return crypto.slhDsaShake256f.verify(signer.identityPublicKey, bytes, signature, deviceCertContext)
}

export const MLS_KEY_CERT_CONTEXT = 'zixt/mls-key-cert/v1'
const mlsKeyCertContext = utf8Encode(MLS_KEY_CERT_CONTEXT)

export type MlsKeyCertificateInput = {
  readonly userId: string
  readonly deviceId: string
  readonly mlsSignaturePublicKey: Uint8Array // ML-DSA-87
  readonly issuedAt: number // ms since the epoch
}

/** The signed bytes: encode({ userId, deviceId, mlsSignaturePublicKey (base64url), issuedAt }). */
export function mlsKeyCertificateBytes(input: MlsKeyCertificateInput): Uint8Array {
  return encode({
    userId: input.userId,
    deviceId: input.deviceId,
    mlsSignaturePublicKey: toBase64url(input.mlsSignaturePublicKey),
    issuedAt: input.issuedAt,
  })
}

/**
 * The device key (ML-DSA-65, itself certified by the identity key in the ledger) certifies
 * the device's MLS signature key (ML-DSA-87) under context 'zixt/mls-key-cert/v1'.
 * Returns the 3,309-byte signature; it travels in the MLS credential (web/client/core/mls).
 */
export function signMlsKeyCertificate(
  input: MlsKeyCertificateInput & { readonly deviceSecretKey: Uint8Array },
  crypto: CryptoFacade,
): Uint8Array {
  checkLength('mlsSignaturePublicKey', input.mlsSignaturePublicKey, mlDsa87Sizes.publicKeyBytes)
  if (!Number.isSafeInteger(input.issuedAt) || input.issuedAt < 0) throw new RangeError(`issuedAt ${input.issuedAt} is not a non-negative safe integer`)
  return crypto.mlDsa65.sign(input.deviceSecretKey, mlsKeyCertificateBytes(input), mlsKeyCertContext)
}

/**
 * True when `devicePublicKey` signed `signature` over this input. Everything but the device
 * key comes from the network, so anything malformed there is `false`; a malformed device
 * key throws.
 */
export function verifyMlsKeyCertificate(
  input: MlsKeyCertificateInput & { readonly signature: Uint8Array },
  devicePublicKey: Uint8Array,
  crypto: CryptoFacade,
): boolean {
  checkLength('devicePublicKey', devicePublicKey, mlDsa65Sizes.publicKeyBytes)
  if (input.mlsSignaturePublicKey.length !== mlDsa87Sizes.publicKeyBytes) return false
  if (input.signature.length !== mlDsa65Sizes.signatureBytes) return false
  if (!Number.isSafeInteger(input.issuedAt) || input.issuedAt < 0) return false
  if (typeof input.userId !== 'string' || typeof input.deviceId !== 'string') return false
  return crypto.mlDsa65.verify(devicePublicKey, mlsKeyCertificateBytes(input), input.signature, mlsKeyCertContext)
}
