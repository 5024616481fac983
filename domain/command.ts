// A command as the ledger records it: built and signed by a client, verified by every
// replica. Signature = Sign(secretKey, encode(command), context 'zixt/command/v1'), with
// ML-DSA-65 for 'device' and 'service' signers and SLH-DSA-SHAKE-256f for 'identity'.
import type { Command, SignedCommand } from './ledger/envelope.ts'
import type { Schema } from './schemas.ts'

export type SignerKind = Command['signer']

/** One command type: its payload shape is P, its discriminant T. */
export type CommandOf<T extends string, P> = {
  readonly id: string
  readonly type: T
  readonly author: string
  readonly signer: SignerKind
  readonly keyId: string
  readonly time: number
  readonly payload: P
}

/** Catalog entry: who may sign it and what its payload looks like. */
export type CommandSpec = {
  readonly signers: readonly SignerKind[]
  readonly summary: string
  readonly payload: Schema
}

export type { Command, SignedCommand }
