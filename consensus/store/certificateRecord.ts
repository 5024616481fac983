// Record type 4: a block's commit certificate, kept beside the block record (whose own
// certificate field is left empty). Two kinds:
// - agreed: the certificate consensus agreed on (carried by the next block's pre-prepare),
//   the same bytes on every correct replica, so stored ledgers are byte-identical;
// - proof: this replica's own 2f+1 commits, written with the block so a committed block is
//   never without a certificate; superseded by the agreed one when it arrives.
// A certificate record may precede its block (it is written first in the same group commit,
// so a torn tail never leaves a block without one) but never by more than one height.
import { decode, encode } from '../../domain/ledger/codec.ts'
import type { CommitSignature } from '../../domain/ledger/envelope.ts'
import { readArray, readBytes, readMap, readText, readUint, schemaError } from '../../domain/ledger/fields.ts'
import { limits } from '../../domain/limits.ts'

export type CertificateRecord = { readonly height: number; readonly agreed: boolean; readonly certificate: readonly CommitSignature[] }

const KEYS = ['height', 'agreed', 'certificate'] as const
const COMMIT_KEYS = ['replica', 'keyId', 'signature'] as const

export function encodeCertificateRecord(r: CertificateRecord): Uint8Array {
  const bytes = encode({ height: r.height, agreed: r.agreed, certificate: r.certificate.map((c) => ({ replica: c.replica, keyId: c.keyId, signature: c.signature })) })
  decodeCertificateRecord(bytes) // field types and limits, exactly as on read
  return bytes
}

export function decodeCertificateRecord(bytes: Uint8Array): CertificateRecord {
  const field = 'certificateRecord'
  const m = readMap(decode(bytes), field, KEYS)
  if (typeof m.agreed !== 'boolean') throw schemaError(`${field}.agreed`, 'expected a boolean')
  const certificate = readArray(m, 'certificate', field, limits.replicasMax).map((v, i) => {
    const f = `${field}.certificate[${i}]`
    const c = readMap(v, f, COMMIT_KEYS)
    return { replica: readUint(c, 'replica', f, limits.replicasMax - 1), keyId: readText(c, 'keyId', f, limits.ledgerIdBytesMax), signature: readBytes(c, 'signature', f, limits.signatureBytesMax) }
  })
  return { height: readUint(m, 'height', field), agreed: m.agreed, certificate }
}
