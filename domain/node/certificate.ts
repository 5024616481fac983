// The certificate by which a replica's SLH-DSA identity key (genesis) vouches for its
// ML-DSA-65 operational key (PBFT messages). Genesis carries the first one
// (operationalKeyCert, issuedAt = genesis.createdAt); RotateReplicaKey the later ones.
import type { CryptoFacade } from '../crypto/types.ts'
import { utf8Encode } from '../encoding.ts'
import { encode } from '../ledger/codec.ts'

export const REPLICA_KEY_CONTEXT = 'zixt/replica-key/v1'
const context = utf8Encode(REPLICA_KEY_CONTEXT)

export type ReplicaKeyCertificateInput = {
  readonly chainId: string
  readonly replica: number
  readonly operationalPublicKey: Uint8Array
  readonly issuedAt: number
}

/** encode({ chainId, replica, operationalPublicKey, issuedAt }) */
export function replicaKeyCertificateBytes(input: ReplicaKeyCertificateInput): Uint8Array {
  return encode({ chainId: input.chainId, replica: input.replica, operationalPublicKey: input.operationalPublicKey, issuedAt: input.issuedAt })
}

export function signReplicaKeyCertificate(input: ReplicaKeyCertificateInput, identitySecretKey: Uint8Array, crypto: CryptoFacade): Uint8Array {
  return crypto.slhDsaShake256f.sign(identitySecretKey, replicaKeyCertificateBytes(input), context)
}

export function verifyReplicaKeyCertificate(
  input: ReplicaKeyCertificateInput,
  certificate: Uint8Array,
  identityPublicKey: Uint8Array,
  crypto: CryptoFacade,
): boolean {
  if (certificate.length !== crypto.slhDsaShake256f.signatureBytes) return false
  return crypto.slhDsaShake256f.verify(identityPublicKey, replicaKeyCertificateBytes(input), certificate, context)
}
