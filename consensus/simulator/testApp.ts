// A small deterministic application for the simulator: a command is
// encode({ id, value }); odd values above 1000 are rejected (so rejections travel the same
// path as in production), every accepted command yields one event. Hashes are real SHA3-256
// so a changed byte anywhere changes the block hash.
import { decode, encode, type Value } from '../../domain/ledger/codec.ts'
import type { Block, BlockHeader, EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { CryptoFacade } from '../../domain/crypto/types.ts'
import type { App, BlockMeta, CommandResult, Execution } from '../app.ts'

export type TestState = { readonly treeSize: number; readonly treeRoot: Uint8Array; readonly sum: number }

export const testGenesis: TestState = { treeSize: 0, treeRoot: new Uint8Array(32), sum: 0 }

export function testCommand(id: string, value: number): Uint8Array {
  return encode({ id, value })
}

function parse(bytes: Uint8Array): { id: string; value: number } | null {
  try {
    const v = decode(bytes) as { id?: Value; value?: Value }
    if (typeof v !== 'object' || v === null || typeof v.id !== 'string' || typeof v.value !== 'number') return null
    return { id: v.id, value: v.value }
  } catch {
    return null
  }
}

function headerValue(h: BlockHeader): Value {
  return { ...h }
}

export function testApp(crypto: Pick<CryptoFacade, 'sha3_256'>): App<TestState> {
  const h = (b: Uint8Array): Uint8Array => crypto.sha3_256(b)
  const app: App<TestState> = {
    commandId: (bytes) => parse(bytes)?.id ?? null,
    blockHash: (header) => h(encode(headerValue(header))),
    digest: h,
    encodeBlock: (b) => encode({ header: headerValue(b.header), commands: [...b.commands], events: b.events.map((e) => ({ ...e })), certificate: b.certificate.map((c) => ({ ...c })) }),
    decodeBlock: (bytes) => {
      const v = decode(bytes) as unknown as Block
      if (typeof v !== 'object' || v === null || typeof v.header?.height !== 'number' || !Array.isArray(v.commands) || !Array.isArray(v.certificate)) throw new Error('not a block')
      return v
    },
    execute(state, batch, meta: BlockMeta): Execution<TestState> {
      let { treeSize, treeRoot, sum } = state
      const accepted: Uint8Array[] = []
      const events: EventEnvelope[] = []
      const results: { commandId: string; result: CommandResult }[] = []
      for (const bytes of batch) {
        const c = parse(bytes)
        if (c === null) throw new Error('not a command')
        if (c.value > 1000 && c.value % 2 === 1) {
          results.push({ commandId: c.id, result: { kind: 'rejected', code: 'TEST_ODD', reason: `value ${c.value} is odd` } })
          continue
        }
        const event: EventEnvelope = {
          position: treeSize, stream: 'test', streamVersion: treeSize, prevHash: treeRoot, type: 'Added', payload: { value: c.value },
          commandId: c.id, author: 'sim', blockHeight: meta.height, time: meta.time,
        }
        treeSize++
        sum += c.value
        treeRoot = h(encode([treeRoot, encode({ ...event })]))
        accepted.push(bytes)
        events.push(event)
        results.push({ commandId: c.id, result: { kind: 'committed', height: meta.height, events: [event] } })
      }
      const header: BlockHeader = {
        height: meta.height, view: meta.headerView, prevBlockHash: meta.prevBlockHash, time: meta.time,
        commandsRoot: h(encode(accepted)), eventsRoot: h(encode(events.map((e) => ({ ...e })))), treeSize, treeRoot, proposer: meta.proposer,
      }
      const block: Block = { header, commands: accepted, events, certificate: [] }
      return { state: { treeSize, treeRoot, sum }, block, blockHash: app.blockHash(header), results }
    },
  }
  return app
}
