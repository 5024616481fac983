// A real ledger for audit/replay tests and benchmarks: 4 replicas (f = 1) in a genesis,
// commands executed by the real domain executor, blocks with 2f+1 ML-DSA-65 commit
// signatures, appended to a LedgerStore, and SLH-DSA tree heads by 3 replicas at the end.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nativeCrypto as crypto } from '../../domain/crypto/native.ts'
import { executeCommand, genesisState, type LedgerState } from '../../domain/execute.ts'
import { createGenesis, encodeGenesis, type Genesis } from '../../domain/genesis.ts'
import { blockHash, buildBlock, commitMessage, GENESIS_TIP, type ChainTip } from '../../domain/ledger/block.ts'
import type { Block, EventEnvelope } from '../../domain/ledger/envelope.ts'
import { treeHeadMessage } from '../../domain/ledger/treeHead.ts'
import { operationalKeyId } from '../../consensus/keys.ts'
import { LedgerStore } from '../../consensus/store/ledgerStore.ts'
import { makeWorkload } from '../../consensus/testing/workload.ts'

export type LedgerFixture = {
  readonly dir: string; readonly ledgerDir: string; readonly genesisFile: string; readonly genesis: Genesis; readonly events: number; readonly blocks: number
  readonly coveredEvents: number // tree size the fixture's tree heads sign
  readonly identitySecretKeys: readonly Uint8Array[] // replica identity keys, to sign more tree heads in tests
}

/**
 * Writes `<dir>/genesis.cbor` and `<dir>/replica-0/ledger/` (the cluster layout). Tree heads
 * by `treeHeads` replicas (default 3) sign the ledger once the block holding message
 * `signedMessages` (default: all) is appended; later blocks are not yet covered (a live ledger).
 */
export async function buildLedger(dir: string, o: { messages: number; perBlock?: number; treeHeads?: number; signedMessages?: number }): Promise<LedgerFixture> {
  const now = Date.now()
  const replicas = [0, 1, 2, 3].map(() => ({ identity: crypto.slhDsaShake256f.keygen(), operational: crypto.mlDsa65.keygen() }))
  const service = crypto.mlDsa65.keygen()
  const genesis = createGenesis({
    chainId: 'zixt-audit-test', createdAt: now - 1000, f: 1,
    replicas: replicas.map((r) => ({ identityPublicKey: r.identity.publicKey, identitySecretKey: r.identity.secretKey, operationalPublicKey: r.operational.publicKey })),
    servicePublicKeys: [{ keyId: 'service:ingest', publicKey: service.publicKey }],
  }, crypto)
  mkdirSync(dir, { recursive: true })
  const genesisFile = join(dir, 'genesis.cbor')
  writeFileSync(genesisFile, encodeGenesis(genesis))
  const ledgerDir = join(dir, 'replica-0', 'ledger')
  const store = await LedgerStore.open(ledgerDir, { hash: crypto.sha3_256 })
  const w = makeWorkload(crypto, { keyId: 'service:ingest', secretKey: service.secretKey }, now)
  const commands = [...w.setup]
  for (let i = 0; i < o.messages; i++) commands.push(w.message(`message ${i}`, now))
  let state: LedgerState = genesisState(genesis)
  let tip: ChainTip = GENESIS_TIP
  const perBlock = o.perBlock ?? 50
  let blocks = 0
  let coveredEvents = -1
  const signAfter = w.setup.length + (o.signedMessages ?? o.messages)
  const signHeads = async (): Promise<void> => {
    const th = { treeSize: tip.frontier.size, treeRoot: tip.frontier.root(crypto.sha3_256), time: now + blocks }
    for (let r = 0; r < (o.treeHeads ?? 3); r++) {
      await store.appendTreeHead({ ...th, replica: r, signature: crypto.slhDsaShake256f.sign(replicas[r]!.identity.secretKey, treeHeadMessage(th)) })
    }
    coveredEvents = th.treeSize
  }
  for (let i = 0; i < commands.length; i += perBlock) {
    const batch = commands.slice(i, i + perBlock)
    const events: EventEnvelope[] = []
    const time = now + blocks
    for (const bytes of batch) {
      const r = executeCommand(state, bytes, { height: tip.height + 1, time, position: state.nextPosition }, crypto)
      if (r.kind !== 'accepted') throw new Error(`fixture command rejected: ${r.code} ${r.reason}`)
      state = r.state
      events.push(...r.events)
    }
    const built = buildBlock({ view: 0, time, proposer: 0, commands: batch, events }, tip, crypto.sha3_256)
    const hash = blockHash(built.block.header, crypto.sha3_256)
    const certificate = [0, 1, 2].map((r) => ({
      replica: r, keyId: operationalKeyId(replicas[r]!.operational.publicKey, crypto),
      signature: crypto.mlDsa65.sign(replicas[r]!.operational.secretKey, commitMessage(0, built.block.header.height, hash)),
    }))
    const block: Block = { ...built.block, certificate }
    await store.append(block)
    tip = built.tip
    blocks++
    if (coveredEvents < 0 && i + perBlock >= signAfter) await signHeads()
  }
  if (coveredEvents < 0) await signHeads()
  await store.close()
  return { dir, ledgerDir, genesisFile, genesis, events: tip.frontier.size, blocks, coveredEvents, identitySecretKeys: replicas.map((r) => r.identity.secretKey) }
}
