// The production App: extend() gives the very block execute() gives for the whole batch,
// and warm() (which fills the command memo) changes no result.
import t, { type Test } from 'tap'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { createGenesis } from '../domain/genesis.ts'
import { ledgerApp, ledgerGenesisState, type LedgerAppState } from './ledgerApp.ts'
import type { BlockMeta, Execution } from './app.ts'
import { makeWorkload } from './testing/workload.ts'
import { decode, encode, type Value } from '../domain/ledger/codec.ts'

const T0 = Date.UTC(2026, 10, 1)
const replicas = [0, 1, 2, 3].map(() => {
  const id = crypto.slhDsaShake256f.keygen()
  return { identityPublicKey: id.publicKey, identitySecretKey: id.secretKey, operationalPublicKey: crypto.mlDsa65.keygen().publicKey }
})
const service = crypto.mlDsa65.keygen()
const genesis = createGenesis({ chainId: 'ledger-app-test', createdAt: T0, f: 1, replicas, servicePublicKeys: [{ keyId: 'service:ingest', publicKey: service.publicKey }] }, crypto)
const w = makeWorkload(crypto, { keyId: 'service:ingest', secretKey: service.secretKey }, T0)

function setUp(t: Test): LedgerAppState {
  const app = ledgerApp(crypto)
  const exec = app.execute(ledgerGenesisState(genesis), w.setup, meta(0))
  t.same(exec.results.map((r) => r.result.kind), ['committed', 'committed', 'committed'], 'set-up commands commit')
  return exec.state
}
function meta(height: number): BlockMeta {
  return { height, headerView: 0, time: T0 + 1000 * height, proposer: 0, prevBlockHash: new Uint8Array(32) }
}
function summary(app: ReturnType<typeof ledgerApp>, e: Execution<LedgerAppState>) {
  return {
    hash: Buffer.from(e.blockHash).toString('hex'),
    block: Buffer.from(app.encodeBlock(e.block)).toString('hex'),
    results: JSON.stringify(e.results.map((r) => [r.commandId, r.result.kind, r.result.kind === 'rejected' ? r.result.code : r.result.events.length])),
    tree: e.state.chain.frontier.size,
    position: e.state.ledger.nextPosition,
  }
}

t.test('extend(base, more) = execute(base batch + more), byte for byte, rejections included', async (t) => {
  const state = setUp(t)
  const messages = Array.from({ length: 12 }, (_, i) => w.message(`hello ${i}`, T0 + 1000))
  const garbage = new Uint8Array([0xa1, 0x61, 0x78, 0x01])
  const batch = [messages[0]!, messages[1]!, garbage, messages[2]!, messages[0]!, ...messages.slice(3)] // a duplicate and a non-command
  const whole = ledgerApp(crypto)
  const expected = summary(whole, whole.execute(state, batch, meta(1)))
  t.match(expected.results, /ZIXT_ERR/, 'the batch has rejections')
  for (const k of [0, 1, 3, 5, batch.length]) {
    const app = ledgerApp(crypto)
    const base = app.execute(state, batch.slice(0, k), meta(1))
    const extended = app.extend!(state, base, batch.slice(k), meta(1))
    t.same(summary(app, extended), expected, `split after ${k}`)
  }
  const warmed = ledgerApp(crypto)
  for (const c of batch) warmed.warm!(state, c, T0 + 1000)
  t.same(summary(warmed, warmed.execute(state, batch, meta(1))), expected, 'warmed first: the same block')
})

t.test('warm() says when the memo is full; executing a block makes room again', async (t) => {
  const state = setUp(t)
  const messages = Array.from({ length: 5 }, (_, i) => w.message(`full ${i}`, T0 + 1000))
  const app = ledgerApp(crypto, { memo: { countMax: 3, bytesMax: 1 << 30, staleMs: 60_000 } })
  t.same(messages.map((m) => app.warm!(state, m, T0 + 1000)), [true, true, true, false, false], 'three commands kept, then no room')
  const first = app.execute(state, messages.slice(0, 2), meta(1))
  t.ok(app.warm!(first.state, messages[3]!, T0 + 1000), 'the executed commands left room')
  const whole = ledgerApp(crypto)
  t.same(summary(app, app.execute(first.state, messages.slice(2), meta(2))), summary(whole, whole.execute(whole.execute(state, messages.slice(0, 2), meta(1)).state, messages.slice(2), meta(2))), 'and every result is what an app without a memo gives')
})

t.test('commandId: the id of a command, of one that fails the schema (rejected under it), null for a non-command', async (t) => {
  const state = setUp(t)
  const app = ledgerApp(crypto)
  const good = w.message('id please', T0 + 1000)
  const goodId = (decode(good) as { command: { id: string } }).command.id
  const v = decode(w.message('bad payload', T0 + 1000)) as { command: { [k: string]: Value }; signature: Value }
  const badId = v.command.id as string
  const bad = encode({ ...v, command: { ...v.command, payload: { nonsense: true } } })
  t.equal(app.commandId(good), goodId)
  t.equal(app.commandId(good.slice()), goodId, 'asked again (another buffer): the same id')
  t.equal(app.commandId(bad), badId, 'fails the schema: the id in its CBOR')
  t.equal(app.commandId(new Uint8Array([0xa1, 0x61, 0x78, 0x01])), null)
  const exec = app.execute(state, [good, bad], meta(1))
  t.same(exec.results.map((r) => [r.commandId, r.result.kind, r.result.kind === 'rejected' ? r.result.code : '']), [[goodId, 'committed', ''], [badId, 'rejected', 'ZIXT_ERR_SCHEMA']])
})

t.test('warm() skips a command already executed: each command is verified once', async (t) => {
  const state = setUp(t)
  let verifications = 0
  const counted = { ...crypto, mlDsa65: { ...crypto.mlDsa65, verify: (...a: Parameters<typeof crypto.mlDsa65.verify>) => { verifications++; return crypto.mlDsa65.verify(...a) } } }
  const app = ledgerApp(counted)
  const messages = Array.from({ length: 4 }, (_, i) => w.message(`once ${i}`, T0 + 1000))
  app.warm!(state, messages[0]!, T0 + 1000) // warmed before its block, as on an idle replica
  t.equal(verifications, 1)
  const exec = app.execute(state, messages.slice(0, 3), meta(1)) // the others executed before the warm-up reached them
  t.equal(verifications, 3, 'the warmed command was not verified again; the two others once each')
  for (const m of messages) t.ok(app.warm!(exec.state, m, T0 + 1000), 'warm() goes on')
  t.equal(verifications, 4, 'the warm-up that lagged behind execution verified only the one not executed')
  const plain = ledgerApp(crypto)
  t.same(summary(app, exec), summary(plain, plain.execute(state, messages.slice(0, 3), meta(1))), 'and the block is what an app without a memo gives')
})
