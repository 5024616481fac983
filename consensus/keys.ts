// Production protocol keys: ML-DSA-65 operational keys from genesis. Protocol messages are
// signed under the context 'zixt/pbft/v1'; commit certificates sign the ledger's
// commitMessage(view, height, blockHash) (domain-separated by its 'zixt/commit/v1' prefix)
// without a context, so an auditor needs nothing but the block and genesis to check them.
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { commitMessage } from '../domain/ledger/block.ts'
import type { Genesis } from '../domain/genesis.ts'
import { fingerprint } from '../domain/identity.ts'
import { utf8Encode } from '../domain/encoding.ts'
import type { ProtocolKeys } from './app.ts'
import { PBFT_SIGNATURE_CONTEXT } from './messages.ts'

export function operationalKeyId(operationalPublicKey: Uint8Array, crypto: CryptoFacade): string {
  return fingerprint(operationalPublicKey, crypto)
}

export function genesisProtocolKeys(genesis: Genesis, index: number, operationalSecretKey: Uint8Array, crypto: CryptoFacade): ProtocolKeys {
  const dsa = crypto.mlDsa65
  const ctx = utf8Encode(PBFT_SIGNATURE_CONTEXT)
  const pk = genesis.replicas.map((r) => r.operationalPublicKey)
  const ids = pk.map((k) => operationalKeyId(k, crypto))
  const n = pk.length
  return {
    sign: (m) => dsa.sign(operationalSecretKey, m, ctx),
    verify: (r, m, s) => r < n && s.length === dsa.signatureBytes && dsa.verify(pk[r]!, m, s, ctx),
    signCommit: (view, height, hash) => ({ replica: index, keyId: ids[index]!, signature: dsa.sign(operationalSecretKey, commitMessage(view, height, hash)) }),
    verifyCommit: (view, height, hash, s) =>
      s.replica < n && s.keyId === ids[s.replica] && s.signature.length === dsa.signatureBytes && dsa.verify(pk[s.replica]!, commitMessage(view, height, hash), s.signature),
    keyIdOf: (r) => ids[r]!,
  }
}
