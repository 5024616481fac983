// Group state at rest (IndexedDB in the browser). ts-mls serializes its ClientState
// minus the ClientConfig (functions: the credential check), which the caller passes
// again on load. The bytes hold the member's private keys: the key store encrypts
// them before they touch storage.
import { decodeGroupState, encodeGroupState } from 'ts-mls'
import { MlsErrorCode, mlsError } from './errors.ts'
import { clientConfigFor, type Group, type GroupOptions } from './group.ts'
import { MLS_SUITE_NAME } from './suite.ts'

const MAGIC = new Uint8Array([0x5a, 0x4d, 0x47, 0x01]) // "ZMG" v1, so a future layout can be told apart

export function encodeGroup(group: Group): Uint8Array {
  const body = encodeGroupState(group.state)
  const out = new Uint8Array(MAGIC.length + body.length)
  out.set(MAGIC)
  out.set(body, MAGIC.length)
  return out
}

export function decodeGroup(bytes: Uint8Array, options: GroupOptions = {}): Group {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) throw mlsError(MlsErrorCode.malformed, 'stored group has an unknown format')
  let d
  try {
    d = decodeGroupState(bytes, MAGIC.length)
  } catch {
    d = undefined
  }
  if (d === undefined || MAGIC.length + d[1] !== bytes.length) throw mlsError(MlsErrorCode.malformed, 'stored group does not decode')
  if (d[0].groupContext.cipherSuite !== MLS_SUITE_NAME) throw mlsError(MlsErrorCode.unsupported, `stored group uses ${d[0].groupContext.cipherSuite}`)
  return { state: { ...d[0], clientConfig: clientConfigFor(options) } }
}
