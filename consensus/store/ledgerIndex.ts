// In-memory indexes over the segment files, rebuilt on open by scanning:
// height → record, position → event bytes, stream → positions, tree heads.
import { assert } from '../../domain/assert.ts'
import type { BlockLayout } from './blockLayout.ts'
import { F64Column, U32Column } from './columns.ts'
import { RECORD_HEADER_BYTES } from './record.ts'

export type BlockLocation = {
  readonly segment: number
  readonly offset: number // of the record
  readonly length: number // of the payload (block bytes)
  readonly firstPosition: number
  readonly eventCount: number
}

export type EventLocation = { readonly segment: number; readonly offset: number; readonly length: number; readonly height: number }

export type TreeHeadLocation = {
  readonly segment: number
  readonly offset: number
  readonly length: number
  readonly replica: number
  readonly treeSize: number
}

export type CertificateLocation = { readonly segment: number; readonly offset: number; readonly length: number; readonly agreed: boolean }

const U32_MAX = 0xffff_ffff

export class LedgerIndex {
  private readonly blockSegment = new U32Column()
  private readonly blockOffset = new U32Column()
  private readonly blockLength = new U32Column()
  private readonly blockFirst = new F64Column()
  private readonly eventOffset = new U32Column()
  private readonly eventLength = new U32Column()
  private readonly streams = new Map<string, number[]>()
  readonly treeHeads: TreeHeadLocation[] = []
  private readonly certificates = new Map<number, CertificateLocation>() // height → the agreed one, else the latest proof

  get height(): number {
    return this.blockSegment.length - 1
  }

  get eventCount(): number {
    return this.eventOffset.length
  }

  addBlock(segment: number, recordOffset: number, length: number, layout: BlockLayout): void {
    assert(recordOffset + RECORD_HEADER_BYTES + length <= U32_MAX, 'segment offsets fit in 32 bits')
    this.blockSegment.push(segment)
    this.blockOffset.push(recordOffset)
    this.blockLength.push(length)
    this.blockFirst.push(this.eventCount)
    const base = recordOffset + RECORD_HEADER_BYTES
    for (let i = 0; i < layout.events.length; i++) {
      const span = layout.events[i]!
      const position = this.eventCount
      this.eventOffset.push(base + span.start)
      this.eventLength.push(span.end - span.start)
      const stream = layout.streams[i]!
      const list = this.streams.get(stream)
      if (list === undefined) this.streams.set(stream, [position])
      else list.push(position)
    }
  }

  block(height: number): BlockLocation {
    assert(height >= 0 && height <= this.height, `block ${height} is indexed`)
    const firstPosition = this.blockFirst.get(height)
    const next = height === this.height ? this.eventCount : this.blockFirst.get(height + 1)
    return {
      segment: this.blockSegment.get(height),
      offset: this.blockOffset.get(height),
      length: this.blockLength.get(height),
      firstPosition,
      eventCount: next - firstPosition,
    }
  }

  /** The block holding event `position` (blocks without events share a first position: take the last). */
  heightOf(position: number): number {
    assert(position >= 0 && position < this.eventCount, `event ${position} is indexed`)
    return this.blockFirst.floorIndex(position)
  }

  event(position: number): EventLocation {
    const height = this.heightOf(position)
    return {
      segment: this.blockSegment.get(height),
      offset: this.eventOffset.get(position),
      length: this.eventLength.get(position),
      height,
    }
  }

  streamPositions(stream: string): readonly number[] {
    return this.streams.get(stream) ?? []
  }

  /** An agreed certificate is final; a proof only replaces another proof (a block re-committed after a torn tail). */
  addCertificate(height: number, c: CertificateLocation): void {
    const current = this.certificates.get(height)
    if (current !== undefined && current.agreed && !c.agreed) return
    this.certificates.set(height, c)
  }

  certificate(height: number): CertificateLocation | undefined {
    return this.certificates.get(height)
  }

  addTreeHead(t: TreeHeadLocation): void {
    this.treeHeads.push(t)
  }
}
