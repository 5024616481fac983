// The production application: the domain executor (domain/execute.ts) and the ledger's
// block builder (domain/ledger/block.ts). A batch runs command by command on the committed
// state; rejected commands are left out of the block and leave no trace.
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { decode, type Value } from '../domain/ledger/codec.ts'
import { eventHash } from '../domain/ledger/event.ts'
import { GENESIS_TIP, blockHash, buildBlock, decodeBlock, encodeBlock, type ChainTip } from '../domain/ledger/block.ts'
import type { Block, EventEnvelope } from '../domain/ledger/envelope.ts'
import { CommandMemo, type CommandMemoLimits } from '../domain/commandMemo.ts'
import { applyBlock, executeCommand, genesisState, precheckCommand, type LedgerState } from '../domain/execute.ts'
import type { Genesis } from '../domain/genesis.ts'
import type { App, BlockMeta, CommandResult, Execution } from './app.ts'
import type { Tip } from './replica.ts'

export type LedgerAppState = { readonly ledger: LedgerState; readonly chain: ChainTip }

/** The command id inside signed command bytes, without the full schema check (ingest did it; execute redoes it). */
export function signedCommandId(bytes: Uint8Array): string | null {
  try {
    const v = decode(bytes) as { command?: { [k: string]: Value } }
    const id = v?.command?.id
    return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null
  } catch {
    return null
  }
}

export function ledgerApp(crypto: CryptoFacade, o: { readonly memo?: CommandMemoLimits } = {}): App<LedgerAppState> {
  // Each command is parsed and its signature verified once per replica, whichever of
  // warm / the primary's execute / a backup's re-execution meets it first (domain/commandMemo.ts).
  const memo = new CommandMemo(o.memo)
  const hash = crypto.sha3_256
  // The events' hashes of each block built here, for extend() (the speculative block grows).
  const leavesOf = new WeakMap<Block, readonly Uint8Array[]>()
  // Every arrival and retransmission asks for the id (the node, then the replica). The first
  // ask parses the command into the memo, so the asks after it, the signature check and the
  // execution all share that one parse. A command that fails the schema is still known by
  // the id in its CBOR: execute() rejects it under that id.
  const idOf = (bytes: Uint8Array): string | null => {
    try {
      return memo.parse(bytes).command.id
    } catch {
      return signedCommandId(bytes)
    }
  }
  return {
    warm(state, command, time) {
      // The signature checked on the committed state, with the key execute() would use. A
      // command signed by a key not yet committed fails here and is simply verified later.
      // One already executed here (the warm-up lags under load) needs no warming: skipped.
      if (memo.executed(command)) return true
      if (!memo.hasRoom()) return false
      precheckCommand(state.ledger, command, Math.max(time, state.ledger.time), crypto, memo)
      return true
    },
    commandId: idOf,
    sizes: (state) => ({
      memo: memo.size,
      memoKB: Math.round(memo.bytes / 1024),
      recentCommandIds: state.ledger.recentCommands.ids.size,
      threads: state.ledger.threads.size,
      devices: state.ledger.devices.size,
    }),
    blockHash: (header) => blockHash(header, hash),
    digest: (bytes) => hash(bytes),
    encodeBlock,
    decodeBlock,
    execute(state, batch, meta: BlockMeta): Execution<LedgerAppState> {
      const run = runCommands(state.ledger, state.chain.frontier.size, batch, meta)
      return built(state, run.ledger, run.accepted, run.events, run.leaves, run.results, meta)
    },
    extend(state, base, more, meta: BlockMeta): Execution<LedgerAppState> {
      const run = runCommands(base.state.ledger, state.chain.frontier.size + base.block.events.length, more, meta)
      const baseLeaves = leavesOf.get(base.block) ?? base.block.events.map((e) => eventHash(e, hash))
      return built(state, run.ledger, [...base.block.commands, ...run.accepted], [...base.block.events, ...run.events], [...baseLeaves, ...run.leaves], [...base.results, ...run.results], meta)
    },
  }

  function runCommands(start: LedgerState, firstPosition: number, batch: readonly Uint8Array[], meta: BlockMeta) {
    let ledger = start
    let position = firstPosition
    const accepted: Uint8Array[] = []
    const events: EventEnvelope[] = []
    const leaves: Uint8Array[] = []
    const results: { commandId: string; result: CommandResult }[] = []
    for (const bytes of batch) {
      const id = idOf(bytes) ?? ''
      const r = executeCommand(ledger, bytes, { height: meta.height, time: meta.time, position }, crypto, memo)
      memo.forget(bytes) // its room goes to a command still pending
      if (r.kind === 'rejected') {
        results.push({ commandId: id, result: { kind: 'rejected', code: r.code, reason: r.reason } })
        continue
      }
      ledger = r.state
      position += r.events.length
      accepted.push(bytes)
      events.push(...r.events)
      leaves.push(...r.eventHashes)
      results.push({ commandId: id, result: { kind: 'committed', height: meta.height, events: r.events } })
    }
    return { ledger, accepted, events, leaves, results }
  }

  function built(
    state: LedgerAppState, ledger: LedgerState, accepted: readonly Uint8Array[], events: readonly EventEnvelope[],
    leaves: readonly Uint8Array[], results: Execution<LedgerAppState>['results'], meta: BlockMeta,
  ): Execution<LedgerAppState> {
    const b = buildBlock({ view: meta.headerView, time: meta.time, proposer: meta.proposer, commands: accepted, events, leaves }, state.chain, hash)
    leavesOf.set(b.block, leaves)
    return { state: { ledger, chain: b.tip }, block: b.block, blockHash: b.tip.blockHash, results }
  }
}

export function ledgerGenesisState(genesis: Genesis): LedgerAppState {
  return { ledger: genesisState(genesis), chain: GENESIS_TIP }
}

/** Rebuilds the state from the blocks already in the local store (trusted: they were verified before they were written). */
export function recoverLedger(
  genesis: Genesis,
  store: { readonly height: number; readBlock(h: number): Block; readonly tip: ChainTip },
  crypto: CryptoFacade,
  onBlock?: (block: Block) => void, // each stored block, in order (the key book notes rotations)
): { state: LedgerAppState; tip: Tip } {
  let ledger = genesisState(genesis)
  let last: Block | null = null
  for (let h = 0; h <= store.height; h++) {
    last = store.readBlock(h)
    ledger = applyBlock(ledger, last, crypto)
    onBlock?.(last)
  }
  const chain = store.tip
  const tip: Tip = last === null
    ? { height: -1, hash: GENESIS_TIP.blockHash, time: genesis.createdAt, headerView: 0, certificate: [] }
    : { height: last.header.height, hash: chain.blockHash, time: last.header.time, headerView: last.header.view, certificate: last.certificate }
  return { state: { ledger, chain }, tip }
}
