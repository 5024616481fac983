// The command bus: where ingest hands canonical signed-command bytes for ordering. The
// in-process bus (default) calls the consensus client directly; a Kafka adapter (scale-out:
// many web nodes produce, a few consensus clients consume) would implement the same type.
import type { CommandResult } from '../../consensus/app.ts'

export type { CommandResult }

export type CommandBus = {
  readonly name: string
  /** Resolves with the outcome agreed by f+1 replicas; rejects with ZixtError(UNAVAILABLE) on timeout. */
  send(signedCommandBytes: Uint8Array): Promise<CommandResult>
  close(): Promise<void>
}
