// How MLS Delivery Service events change the state: key package queues and epochs.
import { assert } from '../assert.ts'
import type { LedgerState } from '../state.ts'
import { updateDevice, updateThread } from '../state.ts'
import type { MlsEvent } from './events.ts'

export function evolveMls(state: LedgerState, event: MlsEvent): LedgerState {
  switch (event.type) {
    case 'KeyPackagesPublished': {
      const p = event.payload
      return updateDevice(state, p.deviceId, (d) => ({
        ...d,
        keyPackages: [...d.keyPackages, ...p.keyPackages.map((k) => k.ref)],
        lastResort: p.lastResort?.ref ?? d.lastResort,
      }))
    }
    case 'KeyPackageClaimed': {
      const p = event.payload
      if (p.lastResort) return state // the last-resort package stays claimable
      return updateDevice(state, p.deviceId, (d) => {
        assert(d.keyPackages[0] === p.ref, `evolve: claimed ${p.ref} is not the oldest key package of ${p.deviceId}`)
        return { ...d, keyPackages: d.keyPackages.slice(1) }
      })
    }
    case 'MlsCommitAccepted': {
      const p = event.payload
      return updateThread(state, p.threadId, (t) => {
        assert(t.epoch === p.epoch, `evolve: commit for epoch ${p.epoch} but thread ${p.threadId} is at ${t.epoch}`)
        return { ...t, epoch: p.epoch + 1 }
      })
    }
  }
}
