// Signed tree heads: { treeSize, treeRoot, time } signed with SLH-DSA-SHAKE-256f
// by one replica, as Certificate Transparency logs sign theirs (RFC 9162 §4.10),
// so every event is covered by SPHINCS+ signatures without signing each one.
import { assert } from '../assert.ts'
import { limits } from '../limits.ts'
import { decode, encode, type Value } from './codec.ts'
import { domainMessage } from './domainMessage.ts'
import type { SignedTreeHead } from './envelope.ts'
import { readBytes, readMap, readUint } from './fields.ts'

export type TreeHead = { readonly treeSize: number; readonly treeRoot: Uint8Array; readonly time: number }

const STH_KEYS = ['treeSize', 'treeRoot', 'time', 'replica', 'signature'] as const
const H = limits.ledgerHashBytes

export const TREE_HEAD_PREFIX = 'zixt/sth/v1'

/** The bytes a replica signs: 'zixt/sth/v1' || 0x00 || canonical { time, treeRoot, treeSize }. */
export function treeHeadMessage(th: TreeHead): Uint8Array {
  assert(Number.isSafeInteger(th.treeSize) && th.treeSize >= 0, 'tree head size')
  assert(Number.isSafeInteger(th.time) && th.time >= 0, 'tree head time')
  assert(th.treeRoot.length === H, `tree root is ${H} bytes`)
  return domainMessage(TREE_HEAD_PREFIX, { treeSize: th.treeSize, treeRoot: th.treeRoot, time: th.time })
}

export function treeHeadToValue(s: SignedTreeHead): Value {
  return { treeSize: s.treeSize, treeRoot: s.treeRoot, time: s.time, replica: s.replica, signature: s.signature }
}

export function treeHeadFromValue(v: Value, field = 'treeHead'): SignedTreeHead {
  const m = readMap(v, field, STH_KEYS)
  return {
    treeSize: readUint(m, 'treeSize', field),
    treeRoot: readBytes(m, 'treeRoot', field, H, H),
    time: readUint(m, 'time', field),
    replica: readUint(m, 'replica', field, limits.replicasMax - 1),
    signature: readBytes(m, 'signature', field, limits.signatureBytesMax),
  }
}

export function encodeTreeHead(s: SignedTreeHead): Uint8Array {
  return encode(treeHeadToValue(s))
}

export function decodeTreeHead(bytes: Uint8Array): SignedTreeHead {
  return treeHeadFromValue(decode(bytes))
}
