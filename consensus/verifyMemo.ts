// ML-DSA-65 verification remembered, so a command checked when it arrives is not checked
// again when its pre-prepare is re-executed (see docs/consensus.md, work off the critical path).
import type { CryptoFacade } from '../domain/crypto/types.ts'

/** Verifications remembered: every command pending on a replica, with room to spare. */
const verifiedCacheMax = 50_000

/**
 * The crypto facade with ML-DSA-65 verification remembered by a digest of everything it
 * covers (key, context, message, signature). Only successes are kept: a signature that
 * verified once verifies again (FIPS 204 verification is deterministic), so the cache changes
 * no result, only when the work is done. A command's signature is checked when it arrives
 * (warm) on the replica's idle time, not while a pre-prepare waits for re-execution.
 */
export function rememberingVerify(crypto: CryptoFacade): CryptoFacade {
  const dsa = crypto.mlDsa65
  // Keyed by the signature's leading bytes (c̃, the challenge hash: as unique as the
  // signature); a hit counts only when SHA3-256 of key, context, message and signature
  // (length-prefixed) is the same. ~50 bytes per entry; the hash costs a few % of a verify.
  const ok = new Map<string, Uint8Array>()
  const digestOf = (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array, ctx: Uint8Array): Uint8Array => {
    const buf = Buffer.allocUnsafe(12 + pk.length + ctx.length + msg.length + sig.length)
    let at = 0
    for (const part of [pk, ctx, msg]) {
      buf.writeUInt32BE(part.length, at)
      buf.set(part, at + 4)
      at += 4 + part.length
    }
    buf.set(sig, at)
    return crypto.sha3_256(buf)
  }
  const mlDsa65: typeof dsa = {
    name: dsa.name, publicKeyBytes: dsa.publicKeyBytes, secretKeyBytes: dsa.secretKeyBytes, signatureBytes: dsa.signatureBytes, seedBytes: dsa.seedBytes,
    keygen: (seed) => dsa.keygen(seed),
    sign: (sk, m, ctx) => dsa.sign(sk, m, ctx),
    verify(pk, msg, sig, ctx) {
      const k = Buffer.from(sig.buffer, sig.byteOffset, Math.min(48, sig.length)).toString('base64')
      const d = digestOf(pk, msg, sig, ctx ?? new Uint8Array(0))
      const e = ok.get(k)
      if (e !== undefined && Buffer.compare(e, d) === 0) return true
      const good = dsa.verify(pk, msg, sig, ctx)
      if (good) {
        ok.set(k, d)
        if (ok.size > verifiedCacheMax) ok.delete(ok.keys().next().value!)
      }
      return good
    },
  }
  return { ...crypto, mlDsa65 }
}
