// npx zixt replay --data DIR [--stream S] [--from H] [--json]: the ledger's events in order.
// Human: one line per event; --json: one object per line, binary as base64url.
import { toBase64url } from '../domain/encoding.ts'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import { openLedgerForReading } from './audit.ts'
import { ledgerPaths } from './ledgerSource.ts'

const ABBREVIATE_CHARS = 24

function summary(payload: EventEnvelope['payload']): string {
  return Object.entries(payload).map(([k, v]) => `${k}=${short(v)}`).join(' ')
}

function short(v: unknown): string {
  if (typeof v === 'string') return v.length > ABBREVIATE_CHARS ? `${v.slice(0, 10)}…(${v.length})` : v
  if (v instanceof Uint8Array) return `<${v.length} bytes>`
  if (Array.isArray(v)) return `[${v.length}]`
  if (v !== null && typeof v === 'object') return '{…}'
  return String(v)
}

function toJson(e: EventEnvelope): string {
  return JSON.stringify(e, (_k, v: unknown) => (v instanceof Uint8Array ? toBase64url(v) : v))
}

function line(e: EventEnvelope): string {
  return `${e.position}\t#${e.blockHeight}\t${new Date(e.time).toISOString()}\t${e.stream}\t${e.type}\t${summary(e.payload)}`
}

export async function main(args: string[]): Promise<number> {
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`)
    return i < 0 ? undefined : args[i + 1]
  }
  const data = flag('data') ?? process.env['ZIXT_DATA']
  if (data === undefined) {
    process.stderr.write('usage: zixt replay --data DIR [--replica I] [--stream S] [--from HEIGHT] [--json]\n')
    return 2
  }
  const json = args.includes('--json')
  // `zixt replay … | head` closes the pipe early: that ends the listing, it is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(0) : undefined))
  const stream = flag('stream')
  const fromHeight = Number(flag('from') ?? 0)
  if (!Number.isSafeInteger(fromHeight) || fromHeight < 0) {
    process.stderr.write(`--from: a block height ≥ 0, got ${flag('from')}\n`)
    return 2
  }
  const store = await openLedgerForReading(ledgerPaths(data, { replica: flag('replica') === undefined ? undefined : Number(flag('replica')) }).ledgerDir)
  const out = (e: EventEnvelope): boolean => process.stdout.write((json ? toJson(e) : line(e)) + '\n')
  try {
    if (stream !== undefined) {
      for (const e of store.readStream(stream)) if (e.blockHeight >= fromHeight) out(e)
      return 0
    }
    if (fromHeight > store.height) return 0
    let position = fromHeight === 0 ? 0 : store.readHeader(fromHeight - 1).treeSize
    while (position < store.eventCount) {
      const events = store.readEvents(position, 1000)
      if (events.length === 0) break
      for (const e of events) out(e)
      position = events[events.length - 1]!.position + 1
    }
    return 0
  } finally {
    await store.close()
  }
}
