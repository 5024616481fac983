// Rebuilding the indexes on open, and deciding what a bad record means.
//
// A record that fails its checks is a torn tail when it is in the last segment
// and no intact record follows it: the process or machine stopped while writing
// it, before its fsync returned, so it was never acknowledged and is dropped
// (truncated and reported). Anything else — a bad record in a sealed segment, or
// followed by intact records, or an intact record that breaks the hash chain —
// is corruption of acknowledged data: it is never skipped. The store then holds
// only what precedes it and names the file, offset and block height.
import { closeSync, fstatSync, ftruncateSync, fsyncSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'
import { GENESIS_TIP, decodeHeader, type ChainTip } from '../../domain/ledger/block.ts'
import { decode, equalBytes } from '../../domain/ledger/codec.ts'
import { decodeTreeHead } from '../../domain/ledger/treeHead.ts'
import { eventBytesHash } from '../../domain/ledger/event.ts'
import { MerkleFrontier, type HashFn } from '../../domain/ledger/merkle.ts'
import { limits } from '../../domain/limits.ts'
import { blockLayout } from './blockLayout.ts'
import { decodeCertificateRecord } from './certificateRecord.ts'
import { LedgerIndex } from './ledgerIndex.ts'
import { RecordType } from './record.ts'
import { intactRecordAfter, listSegments, scanSegment, segmentName, type ScannedRecord } from './segmentFile.ts'

export type Recovery = { readonly file: string; readonly offset: number; readonly droppedBytes: number; readonly reason: string }

export type ScanResult = {
  readonly index: LedgerIndex
  readonly tip: ChainTip // height and blockHash of the last indexed block; its frontier is NOT computed here
  readonly treeRoot: Uint8Array | null // of the last indexed block
  readonly checkpoint: { readonly height: number; readonly frontier: MerkleFrontier }
  readonly lastSegment: number // 0 when there is none
  readonly lastSegmentSize: number
  readonly recovery: Recovery | null
  readonly corruption: ZixtError | null
}

export function corruptionError(file: string, offset: number, height: number, reason: string): ZixtError {
  return new ZixtError(ErrorCode.corrupt, `${file} offset ${offset} (block height ${height}): ${reason}`, { file, offset, height })
}

/**
 * Checks and indexes intact records in ledger order. The store restores the event
 * tree from the last frontier checkpoint after scanning; a follower, which scans
 * incrementally, asks for `trackFrontier` so every block's treeRoot is checked as
 * it arrives.
 */
export class Scanner {
  readonly index = new LedgerIndex()
  tip: ChainTip = GENESIS_TIP
  treeRoot: Uint8Array | null = null // of the last indexed block
  checkpoint = { height: -1, frontier: MerkleFrontier.empty() }
  private readonly hash: HashFn
  private readonly trackFrontier: boolean
  constructor(hash: HashFn, trackFrontier = false) {
    this.hash = hash
    this.trackFrontier = trackFrontier
  }

  /** Indexes one intact record; returns why it breaks the ledger, or null. */
  visit(segment: number, r: ScannedRecord): string | null {
    try {
      if (r.type === RecordType.block) return this.block(segment, r)
      if (r.type === RecordType.treeHead) return this.treeHead(segment, r)
      if (r.type === RecordType.certificate) return this.certificate(segment, r)
      return this.frontier(r)
    } catch (e) {
      return `record does not decode: ${(e as Error).message}`
    }
  }

  private block(segment: number, r: ScannedRecord): string | null {
    const layout = blockLayout(r.payload)
    const headerBytes = r.payload.subarray(layout.header.start, layout.header.end)
    const header = decodeHeader(headerBytes)
    const expected = this.index.height + 1
    if (header.height !== expected) return `block height ${header.height} where ${expected} was expected`
    if (!equalBytes(header.prevBlockHash, this.tip.blockHash)) return `prevBlockHash does not match the hash of block ${expected - 1}`
    const treeSize = this.index.eventCount + layout.events.length
    if (header.treeSize !== treeSize) return `treeSize ${header.treeSize} where ${treeSize} was expected`
    let frontier = this.tip.frontier
    if (this.trackFrontier) {
      frontier = frontier.appendAll(layout.events.map((s) => eventBytesHash(r.payload.subarray(s.start, s.end), this.hash)), this.hash)
      if (!equalBytes(frontier.root(this.hash), header.treeRoot)) return 'treeRoot does not match the events'
    }
    this.index.addBlock(segment, r.offset, r.payload.length, layout)
    this.tip = { height: header.height, blockHash: this.hash(headerBytes), frontier }
    this.treeRoot = header.treeRoot
    return null
  }

  private treeHead(segment: number, r: ScannedRecord): string | null {
    const sth = decodeTreeHead(r.payload)
    if (sth.treeSize > this.index.eventCount) return `tree head of size ${sth.treeSize} precedes its events`
    this.index.addTreeHead({ segment, offset: r.offset, length: r.payload.length, replica: sth.replica, treeSize: sth.treeSize })
    return null
  }

  private certificate(segment: number, r: ScannedRecord): string | null {
    const c = decodeCertificateRecord(r.payload)
    // written just before its block, or (agreed) after it: never further ahead
    if (c.height > this.index.height + 1) return `certificate of height ${c.height} after block ${this.index.height}`
    this.index.addCertificate(c.height, { segment, offset: r.offset, length: r.payload.length, agreed: c.agreed })
    return null
  }

  private frontier(r: ScannedRecord): string | null {
    const v = decode(r.payload) as { height?: unknown; frontier?: unknown }
    const frontier = MerkleFrontier.fromValue((v.frontier ?? null) as never, limits.ledgerHashBytes)
    if (v.height !== this.index.height) return `frontier checkpoint for height ${String(v.height)} after block ${this.index.height}`
    if (frontier.size !== this.index.eventCount || this.treeRoot === null || !equalBytes(frontier.root(this.hash), this.treeRoot)) {
      return `frontier checkpoint does not match the tree of block ${this.index.height}`
    }
    this.checkpoint = { height: this.index.height, frontier }
    return null
  }
}

export function scanLedger(dir: string, hash: HashFn): ScanResult {
  const segments = listSegments(dir)
  const scanner = new Scanner(hash)
  let recovery: Recovery | null = null
  let corruption: ZixtError | null = null
  let lastSize = 0
  for (const segment of segments) {
    const file = segmentName(segment)
    const fd = openSync(join(dir, file), 'r+')
    try {
      const size = fstatSync(fd).size
      let broken: string | null = null
      let brokenAt = 0
      const failure = scanSegment(fd, size, (r) => {
        if (broken !== null) return
        broken = scanner.visit(segment, r)
        brokenAt = r.offset
      })
      if (broken !== null) {
        corruption = corruptionError(file, brokenAt, scanner.index.height + 1, broken)
      } else if (failure !== null) {
        const isLast = segment === segments.length
        const intactAfter = isLast ? intactRecordAfter(fd, size, failure.offset) : null
        if (isLast && intactAfter === null) {
          ftruncateSync(fd, failure.offset)
          fsyncSync(fd)
          recovery = { file, offset: failure.offset, droppedBytes: size - failure.offset, reason: failure.reason }
          lastSize = failure.offset
        } else {
          const where = isLast ? `; an intact record follows at offset ${intactAfter}` : ' in a sealed segment'
          corruption = corruptionError(file, failure.offset, scanner.index.height + 1, `${failure.reason}${where}`)
        }
      } else {
        lastSize = size
      }
    } finally {
      closeSync(fd)
    }
    if (corruption !== null) break
  }
  return {
    index: scanner.index, tip: scanner.tip, treeRoot: scanner.treeRoot, checkpoint: scanner.checkpoint,
    lastSegment: segments.length, lastSegmentSize: lastSize, recovery, corruption,
  }
}
