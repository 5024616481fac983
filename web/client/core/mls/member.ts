// A device's MLS key material: its identity, its ML-DSA-87 MLS signature key pair and
// the private halves of the key packages it has published and not yet used.
// Immutable: operations return a new Member.
import type { Credential, KeyPackage, PrivateKeyPackage } from 'ts-mls'
import { MlsErrorCode, mlsError, wrapMls } from './errors.ts'
import { credentialFor, encodeIdentity, type MemberIdentity, type MlsKeyCertificate } from './identity.ts'
import { mlsSuite, suiteSizes } from './suite.ts'

/** ML-DSA-87 key pair in ts-mls form: `signKey` is the expanded FIPS 204 secret key. */
export type SignatureKeyPair = { readonly publicKey: Uint8Array; readonly signKey: Uint8Array }

/** The private half of one published key package, kept until a Welcome consumes it. */
export type HeldKeyPackage = {
  readonly ref: Uint8Array // KeyPackageRef, RFC 9420 §5.2
  readonly publicPackage: KeyPackage
  readonly privatePackage: PrivateKeyPackage
  readonly lastResort: boolean
}

export type Member = {
  readonly identity: MemberIdentity
  readonly signatureKeys: SignatureKeyPair
  readonly keyPackages: readonly HeldKeyPackage[]
  /** The device key's certificate of signatureKeys.publicKey; goes into every leaf's credential. */
  readonly certificate?: MlsKeyCertificate
}

const probe = new TextEncoder().encode('zixt/mls/key-check/v1')

/**
 * A new member for one device. `signatureKeys` restores an existing MLS signature key
 * (e.g. from the key store); without it a fresh ML-DSA-87 key pair is generated. The
 * app certifies `member.signatureKeys.publicKey` with the device key (which the identity
 * key certified in the ledger) and adds it with certifyMember.
 */
export async function createMember(identity: MemberIdentity, signatureKeys?: SignatureKeyPair): Promise<Member> {
  encodeIdentity(identity) // validates the ids
  const cs = await mlsSuite()
  if (signatureKeys === undefined) {
    const kp = await cs.signature.keygen()
    return { identity: { ...identity }, signatureKeys: { publicKey: kp.publicKey, signKey: kp.signKey }, keyPackages: [] }
  }
  const { publicKey, signKey } = signatureKeys
  if (publicKey.length !== suiteSizes.signaturePublicKeyBytes) {
    throw mlsError(MlsErrorCode.malformed, `signatureKeys.publicKey is ${publicKey.length} bytes, want ${suiteSizes.signaturePublicKeyBytes}`)
  }
  if (signKey.length !== suiteSizes.signatureSecretKeyBytes) {
    throw mlsError(MlsErrorCode.malformed, `signatureKeys.signKey is ${signKey.length} bytes, want ${suiteSizes.signatureSecretKeyBytes}`)
  }
  // A mismatched pair would make every group operation fail later; catch it here.
  const sig = await wrapMls(MlsErrorCode.malformed, 'signatureKeys', () => cs.signature.sign(signKey, probe))
  if (!(await cs.signature.verify(publicKey, probe, sig))) {
    throw mlsError(MlsErrorCode.malformed, 'signatureKeys.publicKey does not match signatureKeys.signKey')
  }
  return { identity: { ...identity }, signatureKeys: { publicKey: publicKey.slice(), signKey: signKey.slice() }, keyPackages: [] }
}

/**
 * The member with `certificate` (signMlsKeyCertificate over mlsSignaturePublicKey(member)):
 * key packages and groups made from it carry the certificate in their credential.
 * Key packages generated before keep their old credential.
 */
export function certifyMember(member: Member, certificate: MlsKeyCertificate): Member {
  encodeIdentity(member.identity, certificate) // validates the certificate's shape
  return { ...member, certificate: { issuedAt: certificate.issuedAt, signature: certificate.signature.slice() } }
}

/** The basic credential of this member's leaves. */
export function memberCredential(member: Member): Credential {
  return credentialFor(member.identity, member.certificate)
}

/** The MLS signature public key the device key certifies (DESIGN "Keys and signatures"). */
export function mlsSignaturePublicKey(member: Member): Uint8Array {
  return member.signatureKeys.publicKey.slice()
}
