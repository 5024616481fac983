// The genesis block's content: the chain's id, its replicas (SLH-DSA identity keys and
// their first ML-DSA-65 operational keys, certified) and the operator's service keys.
// Consensus and ops generate it once; every replica starts from genesisState(genesis).
import type { CryptoFacade } from './crypto/types.ts'
import { ErrorCode, ZixtError } from './errors.ts'
import { decode, encode, equalBytes, type Value } from './ledger/codec.ts'
import { readArray, readBytes, readMap, readText, readUint, schemaError } from './ledger/fields.ts'
import { limits } from './limits.ts'
import { signReplicaKeyCertificate, verifyReplicaKeyCertificate } from './node/certificate.ts'

export type GenesisReplica = {
  readonly index: number
  readonly identityPublicKey: Uint8Array // SLH-DSA-SHAKE-256f, 64 bytes
  readonly operationalPublicKey: Uint8Array // ML-DSA-65, 1952 bytes
  /** SLH-DSA signature over replicaKeyCertificateBytes({ chainId, replica: index, operationalPublicKey, issuedAt: createdAt }). */
  readonly operationalKeyCert: Uint8Array
}

export type GenesisServiceKey = {
  readonly keyId: string // 'service:<name>'
  readonly publicKey: Uint8Array // ML-DSA-65
}

export type Genesis = {
  readonly chainId: string
  readonly createdAt: number // ms since the epoch
  readonly f: number // tolerated faulty replicas; n = 3f + 1
  readonly replicas: readonly GenesisReplica[]
  readonly servicePublicKeys: readonly GenesisServiceKey[]
}

const CHAIN_ID = /^[a-z0-9][a-z0-9-]{0,63}$/
const SERVICE_KEY_ID = /^service:[a-z0-9][a-z0-9-]{0,31}$/
const SERVICE_KEYS_MAX = 16
const SLH_PK = 64
const SLH_SIG = 49856
const MLDSA65_PK = 1952

export function genesisToValue(g: Genesis): Value {
  return {
    chainId: g.chainId,
    createdAt: g.createdAt,
    f: g.f,
    replicas: g.replicas.map((r) => ({
      index: r.index, identityPublicKey: r.identityPublicKey, operationalPublicKey: r.operationalPublicKey, operationalKeyCert: r.operationalKeyCert,
    })),
    servicePublicKeys: g.servicePublicKeys.map((s) => ({ keyId: s.keyId, publicKey: s.publicKey })),
  }
}

export function encodeGenesis(g: Genesis): Uint8Array {
  checkGenesisShape(g)
  return encode(genesisToValue(g))
}

/** Decodes and checks the structure (not the certificates: see verifyGenesis). */
export function decodeGenesis(bytes: Uint8Array): Genesis {
  const m = readMap(decode(bytes), 'genesis', ['chainId', 'createdAt', 'f', 'replicas', 'servicePublicKeys'])
  const g: Genesis = {
    chainId: readText(m, 'chainId', 'genesis', 64, 1),
    createdAt: readUint(m, 'createdAt', 'genesis'),
    f: readUint(m, 'f', 'genesis', Math.floor((limits.replicasMax - 1) / 3)),
    replicas: readArray(m, 'replicas', 'genesis', limits.replicasMax).map((v, i) => {
      const field = `genesis.replicas[${i}]`
      const r = readMap(v, field, ['index', 'identityPublicKey', 'operationalPublicKey', 'operationalKeyCert'])
      return {
        index: readUint(r, 'index', field, limits.replicasMax - 1),
        identityPublicKey: readBytes(r, 'identityPublicKey', field, SLH_PK, SLH_PK),
        operationalPublicKey: readBytes(r, 'operationalPublicKey', field, MLDSA65_PK, MLDSA65_PK),
        operationalKeyCert: readBytes(r, 'operationalKeyCert', field, SLH_SIG, SLH_SIG),
      }
    }),
    servicePublicKeys: readArray(m, 'servicePublicKeys', 'genesis', SERVICE_KEYS_MAX).map((v, i) => {
      const field = `genesis.servicePublicKeys[${i}]`
      const s = readMap(v, field, ['keyId', 'publicKey'])
      return { keyId: readText(s, 'keyId', field, 40, 1), publicKey: readBytes(s, 'publicKey', field, MLDSA65_PK, MLDSA65_PK) }
    }),
  }
  checkGenesisShape(g)
  return g
}

/** Structure: n = 3f+1 replicas indexed 0..n-1, key sizes, distinct keys and service key ids. */
export function checkGenesisShape(g: Genesis): void {
  if (!CHAIN_ID.test(g.chainId)) throw schemaError('genesis.chainId', `'${g.chainId}' must match ${CHAIN_ID}`)
  if (!Number.isSafeInteger(g.createdAt) || g.createdAt < 0) throw schemaError('genesis.createdAt', 'must be a non-negative integer')
  if (!Number.isSafeInteger(g.f) || g.f < 0) throw schemaError('genesis.f', 'must be a non-negative integer')
  const n = 3 * g.f + 1
  if (g.replicas.length !== n) throw schemaError('genesis.replicas', `f = ${g.f} needs ${n} replicas, got ${g.replicas.length}`)
  g.replicas.forEach((r, i) => {
    const field = `genesis.replicas[${i}]`
    if (r.index !== i) throw schemaError(`${field}.index`, `expected ${i}, got ${r.index}`)
    if (r.identityPublicKey.length !== SLH_PK) throw schemaError(`${field}.identityPublicKey`, `expected ${SLH_PK} bytes`)
    if (r.operationalPublicKey.length !== MLDSA65_PK) throw schemaError(`${field}.operationalPublicKey`, `expected ${MLDSA65_PK} bytes`)
    if (r.operationalKeyCert.length !== SLH_SIG) throw schemaError(`${field}.operationalKeyCert`, `expected ${SLH_SIG} bytes`)
    for (let j = 0; j < i; j++) {
      if (equalBytes(g.replicas[j]!.identityPublicKey, r.identityPublicKey)) throw schemaError(`${field}.identityPublicKey`, `same as replica ${j}`)
      if (equalBytes(g.replicas[j]!.operationalPublicKey, r.operationalPublicKey)) throw schemaError(`${field}.operationalPublicKey`, `same as replica ${j}`)
    }
  })
  if (g.servicePublicKeys.length > SERVICE_KEYS_MAX) throw schemaError('genesis.servicePublicKeys', `more than ${SERVICE_KEYS_MAX}`)
  const ids = new Set<string>()
  g.servicePublicKeys.forEach((s, i) => {
    const field = `genesis.servicePublicKeys[${i}]`
    if (!SERVICE_KEY_ID.test(s.keyId)) throw schemaError(`${field}.keyId`, `'${s.keyId}' must match ${SERVICE_KEY_ID}`)
    if (ids.has(s.keyId)) throw schemaError(`${field}.keyId`, `'${s.keyId}' appears twice`)
    ids.add(s.keyId)
    if (s.publicKey.length !== MLDSA65_PK) throw schemaError(`${field}.publicKey`, `expected ${MLDSA65_PK} bytes`)
  })
}

/** Shape plus every replica's operational-key certificate. */
export function verifyGenesis(g: Genesis, crypto: CryptoFacade): void {
  checkGenesisShape(g)
  for (const r of g.replicas) {
    const ok = verifyReplicaKeyCertificate(
      { chainId: g.chainId, replica: r.index, operationalPublicKey: r.operationalPublicKey, issuedAt: g.createdAt },
      r.operationalKeyCert,
      r.identityPublicKey,
      crypto,
    )
    if (!ok) {
      throw new ZixtError(ErrorCode.badSignature, `genesis.replicas[${r.index}].operationalKeyCert: not signed by the replica's identity key`, {
        field: `genesis.replicas[${r.index}].operationalKeyCert`,
      })
    }
  }
}

/** SHA3-256 of the canonical genesis bytes: what a chain is known by. */
export function genesisHash(g: Genesis, crypto: CryptoFacade): Uint8Array {
  return crypto.sha3_256(encodeGenesis(g))
}

export type GenesisReplicaKeys = {
  readonly identityPublicKey: Uint8Array
  readonly identitySecretKey: Uint8Array
  readonly operationalPublicKey: Uint8Array
}

/** Builds a genesis, certifying each replica's operational key with its identity key (ops, tests). */
export function createGenesis(
  input: { readonly chainId: string; readonly createdAt: number; readonly f: number; readonly replicas: readonly GenesisReplicaKeys[]; readonly servicePublicKeys: readonly GenesisServiceKey[] },
  crypto: CryptoFacade,
): Genesis {
  const g: Genesis = {
    chainId: input.chainId,
    createdAt: input.createdAt,
    f: input.f,
    replicas: input.replicas.map((r, index) => ({
      index,
      identityPublicKey: r.identityPublicKey,
      operationalPublicKey: r.operationalPublicKey,
      operationalKeyCert: signReplicaKeyCertificate(
        { chainId: input.chainId, replica: index, operationalPublicKey: r.operationalPublicKey, issuedAt: input.createdAt },
        r.identitySecretKey,
        crypto,
      ),
    })),
    servicePublicKeys: input.servicePublicKeys,
  }
  checkGenesisShape(g)
  return g
}
