// How replica events change the state.
import { assert } from '../assert.ts'
import { fromBase64url } from '../encoding.ts'
import type { LedgerState } from '../state.ts'
import type { NodeEvent } from './events.ts'

export function evolveNode(state: LedgerState, event: NodeEvent): LedgerState {
  switch (event.type) {
    case 'ReplicaKeyRotated': {
      const p = event.payload
      const replica = state.replicas[p.replica]
      assert(replica !== undefined && replica.index === p.replica, `evolve: no replica ${p.replica}`)
      const replicas = state.replicas.slice()
      replicas[p.replica] = { ...replica, operationalPublicKey: fromBase64url(p.operationalPublicKey), keyVersion: p.keyVersion }
      return { ...state, replicas }
    }
  }
}
