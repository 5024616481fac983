// Serializing a device's MLS Member (signature key pair and the private halves of its
// published key packages) for the vault. Group states use mls/groupStore.ts.
import { decodeMlsMessage, encodeMlsMessage } from 'ts-mls'
import type { Value } from '../../../domain/ledger/codec.ts'
import type { HeldKeyPackage, Member } from './mls/member.ts'

export function memberToValue(m: Member): Value {
  return {
    userId: m.identity.userId,
    deviceId: m.identity.deviceId,
    publicKey: m.signatureKeys.publicKey,
    signKey: m.signatureKeys.signKey,
    certificate: m.certificate === undefined ? null : { issuedAt: m.certificate.issuedAt, signature: m.certificate.signature },
    keyPackages: m.keyPackages.map((k) => ({
      ref: k.ref,
      keyPackage: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: k.publicPackage }),
      initPrivateKey: k.privatePackage.initPrivateKey,
      hpkePrivateKey: k.privatePackage.hpkePrivateKey,
      signaturePrivateKey: k.privatePackage.signaturePrivateKey,
      lastResort: k.lastResort,
    })),
  }
}

export function memberFromValue(v: Value): Member {
  const r = v as Record<string, Value>
  const held = (r['keyPackages'] as Record<string, Value>[]).map((k): HeldKeyPackage => {
    const d = decodeMlsMessage(k['keyPackage'] as Uint8Array, 0)
    if (d === undefined || d[0].wireformat !== 'mls_key_package') throw new Error('stored key package does not decode')
    return {
      ref: k['ref'] as Uint8Array,
      publicPackage: d[0].keyPackage,
      privatePackage: {
        initPrivateKey: k['initPrivateKey'] as Uint8Array,
        hpkePrivateKey: k['hpkePrivateKey'] as Uint8Array,
        signaturePrivateKey: k['signaturePrivateKey'] as Uint8Array,
      },
      lastResort: k['lastResort'] === true,
    }
  })
  const cert = (r['certificate'] ?? null) as Record<string, Value> | null // absent in records written before certificates
  return {
    identity: { userId: r['userId'] as string, deviceId: r['deviceId'] as string },
    signatureKeys: { publicKey: r['publicKey'] as Uint8Array, signKey: r['signKey'] as Uint8Array },
    keyPackages: held,
    ...(cert === null ? {} : { certificate: { issuedAt: cert['issuedAt'] as number, signature: cert['signature'] as Uint8Array } }),
  }
}
