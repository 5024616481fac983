// Builds realistic, fully valid chains of blocks for tests and benchmarks:
// signed-command-sized commands, events spread over user and thread streams,
// ciphertext payloads of chat-like sizes with an occasional large one.
import { encode } from '../codec.ts'
import { buildBlock, GENESIS_TIP, type ChainTip } from '../block.ts'
import type { Block, EventDraft, EventEnvelope } from '../envelope.ts'
import { sealEvents, type StreamHead, type StreamHeads } from '../event.ts'
import type { HashFn } from '../merkle.ts'
import type { Rng } from './prng.ts'

export type ChainOptions = {
  readonly streams?: number // distinct thread streams
  readonly largePayloadEvery?: number // one event in N carries a 64 KiB ciphertext (0 = never)
  readonly eventsPerCommandMax?: number
  /** Heads of streams not yet touched by this builder (e.g. a store's streamHead), when resuming a chain. */
  readonly baseHeads?: StreamHeads
}

export class ChainBuilder {
  tip: ChainTip = GENESIS_TIP
  heads = new Map<string, StreamHead>()
  private readonly hash: HashFn
  private readonly rng: Rng
  private readonly streams: number
  private readonly largeEvery: number
  private readonly perCommandMax: number
  private readonly lookup: StreamHeads
  private time = 1_790_000_000_000

  constructor(hash: HashFn, rng: Rng, options: ChainOptions = {}) {
    this.hash = hash
    this.rng = rng
    this.streams = options.streams ?? 50
    this.largeEvery = options.largePayloadEvery ?? 200
    this.perCommandMax = options.eventsPerCommandMax ?? 3
    const base = options.baseHeads
    this.lookup = { get: (stream) => this.heads.get(stream) ?? base?.get(stream) }
  }

  /** The next block with `events` events (about two per command). */
  next(events: number): Block {
    this.time += 1 + this.rng.int(500)
    const commands: Uint8Array[] = []
    const sealed: EventEnvelope[] = []
    let position = this.tip.frontier.size
    while (sealed.length < events) {
      const n = Math.min(events - sealed.length, 1 + this.rng.int(this.perCommandMax))
      const commandId = Buffer.from(this.rng.bytes(16)).toString('base64url')
      const author = `u${this.rng.int(1000)}`
      const drafts = Array.from({ length: n }, () => this.draft(author))
      commands.push(this.command(commandId, author))
      const out = sealEvents(this.lookup, drafts, { position, blockHeight: this.tip.height + 1, time: this.time, commandId, author }, this.hash)
      for (const [k, v] of out.heads) this.heads.set(k, v)
      sealed.push(...out.events)
      position += n
    }
    const view = Math.floor((this.tip.height + 1) / 100)
    const certificate = [0, 1, 2].map((replica) => ({ replica, keyId: `r${replica}-op1`, signature: this.rng.bytes(3309) }))
    const built = buildBlock({ view, time: this.time, proposer: view % 4, commands, events: sealed, certificate }, this.tip, this.hash)
    this.tip = built.tip
    return built.block
  }

  private draft(author: string): EventDraft {
    const large = this.largeEvery > 0 && this.rng.int(this.largeEvery) === 0
    const size = large ? 64 * 1024 : 40 + this.rng.int(600)
    if (this.rng.int(5) === 0) return { stream: `user:${author}`, type: 'DeviceSeen', payload: { device: `d${this.rng.int(9)}` } }
    return {
      stream: `thread:t${this.rng.int(this.streams)}`,
      type: 'MessagePosted',
      payload: { messageId: Buffer.from(this.rng.bytes(16)).toString('base64url'), ciphertext: this.rng.bytes(size), epoch: this.rng.int(100) },
    }
  }

  private command(id: string, author: string): Uint8Array {
    return encode({
      command: { id, type: 'PostMessage', author, signer: 'device', keyId: 'd1', time: this.time, payload: { n: this.rng.int(1e6) } },
      signature: this.rng.bytes(3309),
    })
  }
}
