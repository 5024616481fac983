// MLS key packages per device: published, replaced (last resort), claimed.
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { EventType } from '../../domain/events.ts'
import { type Projection, type Tx, str } from '../projection.ts'

type Published = { readonly ref: string; readonly keyPackage: string }

function row(e: EventEnvelope, p: Published, lastResort: 0 | 1) {
  return {
    device_id: str(e, 'deviceId'), ref: p.ref, user_id: str(e, 'userId'), key_package: p.keyPackage, last_resort: lastResort,
    published_position: e.position, replaced_position: null, claimed_position: null, claimed_by: null, claimed_by_device: null,
    claim_count: 0, position: e.position,
  }
}

function published(e: EventEnvelope, tx: Tx): void {
  for (const p of e.payload['keyPackages'] as readonly Published[]) tx.insert('key_packages', row(e, p, 0))
  const lastResort = e.payload['lastResort'] as Published | undefined
  if (lastResort === undefined) return
  tx.exec('key_packages', `UPDATE ${tx.t('key_packages')} SET replaced_position = ?, position = ? WHERE device_id = ? AND last_resort = 1 AND replaced_position IS NULL`,
    [e.position, e.position, str(e, 'deviceId')])
  tx.insert('key_packages', row(e, lastResort, 1))
}

function claimed(e: EventEnvelope, tx: Tx): void {
  tx.exec('key_packages',
    `UPDATE ${tx.t('key_packages')} SET claimed_position = ?, claimed_by = ?, claimed_by_device = ?, claim_count = claim_count + 1, position = ?
     WHERE device_id = ? AND ref = ?`,
    [e.position, str(e, 'claimedBy'), str(e, 'claimedByDevice'), e.position, str(e, 'deviceId'), str(e, 'ref')])
}

const handlers: Partial<Record<EventType, (e: EventEnvelope, tx: Tx) => void>> = {
  KeyPackagesPublished: published,
  KeyPackageClaimed: claimed,
}

export const keyPackagesProjection: Projection = {
  name: 'keyPackages',
  tables: ['key_packages'],
  handles: new Set(Object.keys(handlers) as EventType[]),
  apply(event, tx) {
    handlers[event.type as EventType]?.(event, tx)
  },
}

