// A canonical digest of a LedgerState, for tests: two states with equal digests hold the
// same data (PMap iteration order depends only on contents).
import type { CryptoFacade } from '../crypto/types.ts'
import { toBase64url } from '../encoding.ts'
import { encode, type Value } from '../ledger/codec.ts'
import type { PMap } from '../pmap.ts'
import type { IdList, LedgerState, ThreadState } from '../state.ts'

function mapValue<V>(m: PMap<V>, f: (v: V) => Value): Value {
  return [...m.entries()].map(([k, v]) => [k, f(v)])
}

const plain = (v: unknown): Value => v as Value

function listValue(l: IdList | null): Value {
  const out: string[] = []
  for (let n = l; n !== null; n = n.next) out.push(n.id)
  return out
}

function threadValue(t: ThreadState): Value {
  return {
    ...(t as unknown as { [k: string]: Value }),
    recent: mapValue(t.recent, plain),
    recentQueue: { head: t.recentQueue.head, tail: t.recentQueue.tail, items: mapValue(t.recentQueue.items, plain) },
  }
}

export function stateValue(s: LedgerState): Value {
  return {
    chainId: s.chainId,
    height: s.height,
    time: s.time,
    nextPosition: s.nextPosition,
    serviceKeys: [...s.serviceKeys.values()].map((k) => plain(k)),
    replicas: s.replicas.map(plain),
    users: mapValue(s.users, plain),
    usernames: mapValue(s.usernames, plain),
    devices: mapValue(s.devices, plain),
    threads: mapValue(s.threads, threadValue),
    groups: mapValue(s.groups, plain),
    adminCount: s.adminCount,
    recentCommands: {
      ids: mapValue(s.recentCommands.ids, plain),
      buckets: mapValue(s.recentCommands.buckets, listValue),
      bucketKeys: s.recentCommands.bucketKeys.slice(),
    },
    heads: mapValue(s.heads, plain),
  }
}

export function stateDigest(s: LedgerState, crypto: CryptoFacade): string {
  return toBase64url(crypto.sha3_256(encode(stateValue(s), { itemsMax: 10_000_000 })))
}
