// What anyone (the web server, the ledger's DS rules, a client before decrypting) can
// read from an MLS message without keys: wire format, group id, epoch, content type,
// and for a Welcome the KeyPackageRefs it is addressed to. RFC 9420 §6, §12.4.3.1.
import { decodeMlsMessage } from 'ts-mls'
import { limits } from '../../../../domain/limits.ts'
import { MlsErrorCode, mlsError } from './errors.ts'

export type MessageHeader =
  | { readonly kind: 'private'; readonly groupId: Uint8Array; readonly epoch: bigint; readonly contentType: 'application' | 'proposal' | 'commit' }
  | { readonly kind: 'public'; readonly groupId: Uint8Array; readonly epoch: bigint; readonly contentType: 'application' | 'proposal' | 'commit' }
  | { readonly kind: 'welcome'; readonly newMembers: readonly Uint8Array[] }
  | { readonly kind: 'keyPackage' }
  | { readonly kind: 'groupInfo'; readonly groupId: Uint8Array; readonly epoch: bigint }

export function peekMessage(bytes: Uint8Array): MessageHeader {
  if (bytes.length > limits.mlsHandshakeBytesMax) throw mlsError(MlsErrorCode.tooLarge, `message of ${bytes.length} bytes exceeds ${limits.mlsHandshakeBytesMax}`)
  let d
  try {
    d = decodeMlsMessage(bytes, 0)
  } catch {
    d = undefined
  }
  if (d === undefined || d[1] !== bytes.length) throw mlsError(MlsErrorCode.malformed, 'bytes are not exactly one MLSMessage')
  const m = d[0]
  switch (m.wireformat) {
    case 'mls_private_message':
      return { kind: 'private', groupId: m.privateMessage.groupId, epoch: m.privateMessage.epoch, contentType: m.privateMessage.contentType }
    case 'mls_public_message': {
      const c = m.publicMessage.content
      return { kind: 'public', groupId: c.groupId, epoch: c.epoch, contentType: c.contentType }
    }
    case 'mls_welcome':
      return { kind: 'welcome', newMembers: m.welcome.secrets.map((s) => s.newMember) }
    case 'mls_key_package':
      return { kind: 'keyPackage' }
    case 'mls_group_info':
      return { kind: 'groupInfo', groupId: m.groupInfo.groupContext.groupId, epoch: m.groupInfo.groupContext.epoch }
  }
}
