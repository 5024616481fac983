// What the replica needs from the application it orders commands for. Production wires the
// domain executor (consensus/ledgerApp.ts); the simulator uses a small deterministic app.
// Everything here is pure and deterministic: the same batch on the same state gives the same
// block, byte for byte, on every replica.
import type { Block, BlockHeader, CommitSignature, EventEnvelope } from '../domain/ledger/envelope.ts'

export type CommandResult =
  | { readonly kind: 'committed'; readonly height: number; readonly events: readonly EventEnvelope[] }
  | { readonly kind: 'rejected'; readonly code: string; readonly reason: string }

export type BlockMeta = {
  readonly height: number
  readonly headerView: number
  readonly time: number
  readonly proposer: number
  readonly prevBlockHash: Uint8Array
}

export type Execution<S> = {
  readonly state: S // the state after the block
  readonly block: Block // certificate still empty
  readonly blockHash: Uint8Array
  /** One entry per command of the batch, in order; rejected commands are not in the block. */
  readonly results: readonly { readonly commandId: string; readonly result: CommandResult }[]
}

export type App<S> = {
  /** The command's id, or null when the bytes are not a command at all (dropped, no reply). */
  commandId(command: Uint8Array): string | null
  execute(state: S, batch: readonly Uint8Array[], meta: BlockMeta): Execution<S>
  /**
   * Optional: the block of `execute(state, [...batch of base, ...more], meta)` computed from
   * `base` (an execution of the first part on `state`, with the same meta) by executing only
   * `more`. Same result, byte for byte, as the full execute.
   */
  extend?(state: S, base: Execution<S>, more: readonly Uint8Array[], meta: BlockMeta): Execution<S>
  blockHash(header: BlockHeader): Uint8Array
  /** The ledger's hash function (SHA3-256 in production): certificate digests. */
  digest(bytes: Uint8Array): Uint8Array
  encodeBlock(block: Block): Uint8Array
  /** Throws on malformed bytes. */
  decodeBlock(bytes: Uint8Array): Block
  /**
   * Optional: do ahead of time the costly part of executing `command` (its signature check)
   * so a later execute() that meets the same bytes reuses it. Must not change any result:
   * execute() stays the only thing that decides. Returns false when it has no room to keep
   * more now: the shell waits for the next committed block before warming again.
   */
  warm?(state: S, command: Uint8Array, time: number): boolean
  /** Optional: counts of what the app keeps in memory (for the replica's stats line). */
  sizes?(state: S): Record<string, number>
}

/** The replica's signing keys and the cluster's verification keys (ML-DSA-65 in production). */
export type ProtocolKeys = {
  /** Sign a protocol message body with this replica's operational key. */
  sign(message: Uint8Array): Uint8Array
  verify(replica: number, message: Uint8Array, signature: Uint8Array): boolean
  /** This replica's signature over commitMessage(headerView, height, blockHash). */
  signCommit(headerView: number, height: number, blockHash: Uint8Array): CommitSignature
  verifyCommit(headerView: number, height: number, blockHash: Uint8Array, s: CommitSignature): boolean
  /** The id of a replica's operational key as recorded in certificates: the one that signs block `height` (the current one without). */
  keyIdOf(replica: number, height?: number): string
}
