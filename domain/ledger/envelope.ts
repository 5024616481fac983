// The ledger's records. Stored encodings never change (STYLE rule 4): a new shape
// gets a new type name and is upcast on read.
import type { Value } from './codec.ts'

/** A command exactly as the client built it. Its payload is JSON-shaped (binary as base64url strings). */
export type Command = {
  readonly id: string // 16 random bytes, base64url without padding (22 chars)
  readonly type: string // imperative: 'PostMessage'
  readonly author: string // user id
  // device: ordinary commands; identity: account-level commands; service: facts only the
  // operator's services can attest (e-mail verified, key rotation due/expired), keys in genesis
  readonly signer: 'device' | 'identity' | 'service'
  readonly keyId: string // device id, identity key id (= user id) or service key id
  readonly time: number // client clock, ms since the epoch; must be within limits.commandSkewMs of the block time
  readonly payload: { readonly [key: string]: Value }
}

/** A signed command. The signature covers encode(command) under the context COMMAND_SIGNATURE_CONTEXT. */
export type SignedCommand = {
  readonly command: Command
  readonly signature: string // base64url
}

export const COMMAND_SIGNATURE_CONTEXT = 'zixt/command/v1'

/** What decide() produces; the block builder turns drafts into envelopes. */
export type EventDraft = {
  readonly stream: string // 'user:<id>', 'thread:<id>', 'node:<id>', 'ledger'
  readonly type: string // past tense: 'MessagePosted'
  readonly payload: { readonly [key: string]: Value }
}

export type EventEnvelope = {
  readonly position: number // global order, from 0
  readonly stream: string
  readonly streamVersion: number // from 0 within the stream
  readonly prevHash: Uint8Array // hash of the stream's previous event; 32 zero bytes for the first
  readonly type: string
  readonly payload: { readonly [key: string]: Value }
  readonly commandId: string
  readonly author: string
  readonly blockHeight: number
  readonly time: number // the block time agreed by consensus
}

export type BlockHeader = {
  readonly height: number
  readonly view: number
  readonly prevBlockHash: Uint8Array
  readonly time: number
  readonly commandsRoot: Uint8Array
  readonly eventsRoot: Uint8Array
  readonly treeSize: number // events in the ledger's Merkle tree after this block
  readonly treeRoot: Uint8Array
  readonly proposer: number // replica index
}

/** One replica's ML-DSA-65 signature over the commit of a block. */
export type CommitSignature = {
  readonly replica: number
  readonly keyId: string // the operational key that signed
  readonly signature: Uint8Array
}

export type Block = {
  readonly header: BlockHeader
  readonly commands: readonly Uint8Array[] // canonical bytes of each accepted SignedCommand, in order
  readonly events: readonly EventEnvelope[]
  readonly certificate: readonly CommitSignature[] // 2f+1 commits
}

/** { treeSize, treeRoot, time } signed with SLH-DSA-SHAKE-256f by one replica. */
export type SignedTreeHead = {
  readonly treeSize: number
  readonly treeRoot: Uint8Array
  readonly time: number
  readonly replica: number
  readonly signature: Uint8Array
}
