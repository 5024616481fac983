// Replica commands. A replica's operational ML-DSA-65 key (it signs PBFT messages) is
// certified by the replica's SLH-DSA identity key listed in the genesis block.
import type { CommandOf, CommandSpec } from '../command.ts'
import { integer, mlDsa65PublicKeySchema, object, slhDsaSignatureSchema, timeSchema } from '../schemas.ts'

/** Signer 'identity', author = keyId = 'replica:<index>'. */
export type RotateReplicaKey = CommandOf<'RotateReplicaKey', {
  readonly replica: number
  readonly operationalPublicKey: string
  readonly issuedAt: number
  /** SLH-DSA signature by the replica identity key over replicaKeyCertificateBytes(...) (domain/node/certificate.ts). */
  readonly certificate: string
}>

export type NodeCommand = RotateReplicaKey

export const nodeCommandSpecs = {
  RotateReplicaKey: {
    signers: ['identity'],
    summary: 'replica: certify a new operational key',
    payload: object({ replica: integer(0, 999), operationalPublicKey: mlDsa65PublicKeySchema, issuedAt: timeSchema, certificate: slhDsaSignatureSchema }),
  },
} as const satisfies Record<NodeCommand['type'], CommandSpec>
