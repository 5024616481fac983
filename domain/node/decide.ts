// Rules for replica commands.
import { assert } from '../assert.ts'
import { equalBytes } from '../ledger/codec.ts'
import { fromBase64url } from '../encoding.ts'
import { limits } from '../limits.ts'
import { accept, type Decision, draft, nodeStream, reject, Rejection } from '../rejections.ts'
import type { DecideContext } from '../state.ts'
import { verifyReplicaKeyCertificate } from './certificate.ts'
import type { NodeCommand, RotateReplicaKey } from './commands.ts'

function rotateReplicaKey(cmd: RotateReplicaKey, ctx: DecideContext): Decision {
  assert(ctx.signer.kind === 'replica', 'RotateReplicaKey is signed by a replica identity key')
  const replica = ctx.signer.replica
  const p = cmd.payload
  if (p.replica !== replica.index) {
    return reject(Rejection.wrongSigner, `payload.replica: ${p.replica} is not the signing replica ${replica.index}`)
  }
  const operationalPublicKey = fromBase64url(p.operationalPublicKey)
  if (equalBytes(operationalPublicKey, replica.operationalPublicKey)) {
    return reject(Rejection.noChange, `payload.operationalPublicKey: same as replica ${replica.index}'s current key`)
  }
  if (p.issuedAt > ctx.time + limits.commandSkewMs) {
    return reject(Rejection.badCertificate, `payload.issuedAt: ${p.issuedAt} is later than the block time ${ctx.time}`)
  }
  const ok = verifyReplicaKeyCertificate(
    { chainId: ctx.state.chainId, replica: replica.index, operationalPublicKey, issuedAt: p.issuedAt },
    fromBase64url(p.certificate),
    replica.identityPublicKey,
    ctx.crypto,
  )
  if (!ok) return reject(Rejection.badCertificate, `payload.certificate: not signed by replica ${replica.index}'s identity key`)
  return accept(draft(nodeStream(replica.index), 'ReplicaKeyRotated', { ...p, keyVersion: replica.keyVersion + 1 }))
}

export function decideNode(cmd: NodeCommand, ctx: DecideContext): Decision {
  switch (cmd.type) {
    case 'RotateReplicaKey': return rotateReplicaKey(cmd, ctx)
  }
}
