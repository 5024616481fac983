import t from 'tap'
import { sha3_256 } from '@noble/hashes/sha3.js'
import { nativeCrypto } from './crypto/native.ts'
import { nobleCrypto } from './crypto/noble.ts'
import { concatBytes, fromBase64url, toBase64url, utf8Encode } from './encoding.ts'
import { ErrorCode } from './errors.ts'
import {
  DEVICE_CERT_CONTEXT,
  MLS_KEY_CERT_CONTEXT,
  deviceCertificateBytes,
  mlsKeyCertificateBytes,
  signMlsKeyCertificate,
  verifyMlsKeyCertificate,
  deviceIdFor,
  fingerprint,
  signDeviceCertificate,
  userIdFor,
  verifyDeviceCertificate,
} from './identity.ts'
import { decode } from './ledger/codec.ts'
import type { DeviceCertificate } from './user/commands.ts'

const identity = nativeCrypto.slhDsaShake256f.keygen()
const device = nativeCrypto.mlDsa65.keygen()

t.test('user and device ids: SHA3-256 over a domain label and the key, 43 base64url characters', async (t) => {
  // Independent computation with @noble/hashes directly, not through the facade.
  const expectUser = toBase64url(sha3_256(concatBytes(utf8Encode('zixt/user-id/v1'), identity.publicKey)))
  const expectDevice = toBase64url(sha3_256(concatBytes(utf8Encode('zixt/device-id/v1'), device.publicKey)))
  for (const crypto of [nativeCrypto, nobleCrypto]) {
    t.equal(userIdFor(identity.publicKey, crypto), expectUser, crypto.backend)
    t.equal(deviceIdFor(device.publicKey, crypto), expectDevice, crypto.backend)
  }
  t.equal(expectUser.length, 43)
  t.equal(fromBase64url(expectUser).length, 32, 'canonical base64url of 32 bytes')
  t.not(userIdFor(nativeCrypto.slhDsaShake256f.keygen().publicKey, nativeCrypto), expectUser, 'another key, another id')
  t.throws(() => userIdFor(device.publicKey, nativeCrypto), { code: ErrorCode.invalidLength, message: /^identityPublicKey: expected 64 bytes/ })
  t.throws(() => deviceIdFor(identity.publicKey, nativeCrypto), { code: ErrorCode.invalidLength, message: /^devicePublicKey: expected 1952 bytes/ })
})

t.test('fingerprints: first 20 bytes of SHA3-256, ten groups of four upper-case hex digits', async (t) => {
  const fp = fingerprint(device.publicKey, nobleCrypto)
  t.match(fp, /^(?:[0-9A-F]{4} ){9}[0-9A-F]{4}$/)
  t.equal(fp.replaceAll(' ', '').toLowerCase(), Buffer.from(sha3_256(device.publicKey).subarray(0, 20)).toString('hex'))
  t.equal(fingerprint(device.publicKey, nativeCrypto), fp)
})

t.test('device certificates', async (t) => {
  const userId = userIdFor(identity.publicKey, nativeCrypto)
  const deviceId = deviceIdFor(device.publicKey, nativeCrypto)
  const issuedAt = 1_750_000_000_000
  const cert = signDeviceCertificate({ userId, deviceId, devicePublicKey: device.publicKey, issuedAt, identitySecretKey: identity.secretKey }, nativeCrypto)
  const signer = { userId, identityPublicKey: identity.publicKey }

  t.same(decode(deviceCertificateBytes({ userId, deviceId, devicePublicKey: device.publicKey, issuedAt })), {
    userId, deviceId, devicePublicKey: toBase64url(device.publicKey), issuedAt,
  }, 'signed bytes are encode({ userId, deviceId, devicePublicKey, issuedAt })')
  t.same(Object.keys(cert).sort(), ['certificate', 'deviceId', 'issuedAt', 'publicKey'], 'the shape of domain/user DeviceCertificate')
  t.equal(fromBase64url(cert.certificate).length, 49856)
  for (const crypto of [nativeCrypto, nobleCrypto]) t.equal(verifyDeviceCertificate(cert, signer, crypto), true, `${crypto.backend} verifies`)

  const signature = fromBase64url(cert.certificate)
  t.equal(nativeCrypto.slhDsaShake256f.verify(identity.publicKey, deviceCertificateBytes({ userId, deviceId, devicePublicKey: device.publicKey, issuedAt }), signature, utf8Encode(DEVICE_CERT_CONTEXT)), true, `under context ${DEVICE_CERT_CONTEXT}`)

  const other = nativeCrypto.mlDsa65.keygen().publicKey
  const tampered: [string, DeviceCertificate][] = [
    ['issuedAt', { ...cert, issuedAt: issuedAt + 1 }],
    ['deviceId', { ...cert, deviceId: deviceIdFor(other, nativeCrypto) }],
    ['publicKey', { ...cert, publicKey: toBase64url(other) }],
    ['publicKey not base64url', { ...cert, publicKey: `${cert.publicKey}=` }],
    ['publicKey too short', { ...cert, publicKey: toBase64url(other.subarray(1)) }],
    ['certificate truncated', { ...cert, certificate: toBase64url(signature.subarray(0, 49855)) }],
    ['issuedAt not an integer', { ...cert, issuedAt: 1.5 }],
  ]
  for (const [what, c] of tampered) t.equal(verifyDeviceCertificate(c, signer, nobleCrypto), false, what)
  t.equal(verifyDeviceCertificate(cert, { ...signer, userId: deviceId }, nobleCrypto), false, 'other user id')
  const stranger = nativeCrypto.slhDsaShake256f.keygen().publicKey
  t.equal(verifyDeviceCertificate(cert, { userId, identityPublicKey: stranger }, nobleCrypto), false, 'other identity key')
  t.throws(() => verifyDeviceCertificate(cert, { userId, identityPublicKey: new Uint8Array(3) }, nobleCrypto), { code: ErrorCode.invalidLength })
})

t.test('MLS key certificate: the device key (ML-DSA-65) signs encode({ userId, deviceId, mlsSignaturePublicKey, issuedAt })', async (t) => {
  const userId = userIdFor(identity.publicKey, nativeCrypto)
  const deviceId = deviceIdFor(device.publicKey, nativeCrypto)
  const mlsSignaturePublicKey = nativeCrypto.mlDsa87.keygen().publicKey
  const issuedAt = 1_750_000_000_000
  const input = { userId, deviceId, mlsSignaturePublicKey, issuedAt }
  t.same(decode(mlsKeyCertificateBytes(input)), { userId, deviceId, mlsSignaturePublicKey: toBase64url(mlsSignaturePublicKey), issuedAt }, 'signed bytes')
  for (const signer of [nativeCrypto, nobleCrypto]) {
    const signature = signMlsKeyCertificate({ ...input, deviceSecretKey: device.secretKey }, signer)
    t.equal(signature.length, 3309, 'an ML-DSA-65 signature')
    t.equal(nativeCrypto.mlDsa65.verify(device.publicKey, mlsKeyCertificateBytes(input), signature, utf8Encode(MLS_KEY_CERT_CONTEXT)), true, `under context ${MLS_KEY_CERT_CONTEXT}`)
    for (const verifier of [nativeCrypto, nobleCrypto]) {
      t.equal(verifyMlsKeyCertificate({ ...input, signature }, device.publicKey, verifier), true, `${signer.backend} → ${verifier.backend}`)
    }
  }
  const signature = signMlsKeyCertificate({ ...input, deviceSecretKey: device.secretKey }, nativeCrypto)
  const otherMls = nativeCrypto.mlDsa87.keygen().publicKey
  const tampered: [string, Parameters<typeof verifyMlsKeyCertificate>[0]][] = [
    ['other user', { ...input, signature, userId: deviceId }],
    ['other device id', { ...input, signature, deviceId: userId }],
    ['other MLS key', { ...input, signature, mlsSignaturePublicKey: otherMls }],
    ['MLS key too short', { ...input, signature, mlsSignaturePublicKey: otherMls.subarray(1) }],
    ['issuedAt', { ...input, signature, issuedAt: issuedAt + 1 }],
    ['issuedAt not an integer', { ...input, signature, issuedAt: 1.5 }],
    ['signature truncated', { ...input, signature: signature.subarray(1) }],
  ]
  for (const [what, c] of tampered) t.equal(verifyMlsKeyCertificate(c, device.publicKey, nobleCrypto), false, what)
  t.equal(verifyMlsKeyCertificate({ ...input, signature }, nativeCrypto.mlDsa65.keygen().publicKey, nativeCrypto), false, 'another device key')
  const wrongContext = nativeCrypto.mlDsa65.sign(device.secretKey, mlsKeyCertificateBytes(input), utf8Encode(DEVICE_CERT_CONTEXT))
  t.equal(verifyMlsKeyCertificate({ ...input, signature: wrongContext }, device.publicKey, nativeCrypto), false, 'signed under another context')
  t.throws(() => verifyMlsKeyCertificate({ ...input, signature }, new Uint8Array(3), nativeCrypto), { code: ErrorCode.invalidLength })
  t.throws(() => signMlsKeyCertificate({ ...input, mlsSignaturePublicKey: otherMls.subarray(1), deviceSecretKey: device.secretKey }, nativeCrypto), { code: ErrorCode.invalidLength })
})
