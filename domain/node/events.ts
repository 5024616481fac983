// Replica events, on 'node:<index>'. Consensus verifies PBFT messages of the block after
// this one with the new key.
import type { EventOf, EventSpec } from '../events.ts'
import { integer, mlDsa65PublicKeySchema, object, slhDsaSignatureSchema, timeSchema } from '../schemas.ts'

export type ReplicaKeyRotated = EventOf<'ReplicaKeyRotated', {
  readonly replica: number
  readonly operationalPublicKey: string
  readonly issuedAt: number
  readonly certificate: string
  readonly keyVersion: number // 0 is the key in the genesis block
}>

export type NodeEvent = ReplicaKeyRotated

export const nodeEventSpecs = {
  ReplicaKeyRotated: {
    stream: 'node',
    payload: object({
      replica: integer(0, 999), operationalPublicKey: mlDsa65PublicKeySchema, issuedAt: timeSchema,
      certificate: slhDsaSignatureSchema, keyVersion: integer(0),
    }),
  },
} as const satisfies Record<NodeEvent['type'], EventSpec>
