import t from 'tap'
import { toBase64url } from '../encoding.ts'
import { Rejection } from '../rejections.ts'
import { byReplica, bytesFrom, crypto, FAKE_CERTIFICATE, T0, testGenesis } from '../testing/fixtures.ts'
import { given } from '../testing/spec.ts'
import { signReplicaKeyCertificate } from './certificate.ts'

const { genesis, replicas } = testGenesis()
const next = crypto.mlDsa65.keygen(bytesFrom('replica-op:0:v1', 32))
const certificate = toBase64url(signReplicaKeyCertificate(
  { chainId: genesis.chainId, replica: 0, operationalPublicKey: next.publicKey, issuedAt: T0 }, replicas[0]!.identity.secretKey, crypto))
const payload = { replica: 0, operationalPublicKey: toBase64url(next.publicKey), issuedAt: T0, certificate }

t.test('RotateReplicaKey: certified by the replica identity key from genesis', async (t) => {
  const { state } = given().when(byReplica(0, 'RotateReplicaKey', payload)).then(t, {
    type: 'ReplicaKeyRotated', stream: 'node:0', payload: { ...payload, keyVersion: 1 },
  })
  t.same(state.replicas[0]!.operationalPublicKey, next.publicKey, 'consensus reads the new key from the state')
})

t.test('RotateReplicaKey: rejections', async (t) => {
  given().when(byReplica(0, 'RotateReplicaKey', { ...payload, certificate: FAKE_CERTIFICATE })).rejects(t, Rejection.badCertificate)
  given().when(byReplica(0, 'RotateReplicaKey', { ...payload, operationalPublicKey: toBase64url(genesis.replicas[0]!.operationalPublicKey) }))
    .rejects(t, Rejection.noChange)
  given().when(byReplica(0, 'RotateReplicaKey', { ...payload, replica: 1 })).rejects(t, Rejection.wrongSigner, 'payload.replica')
  given().when(byReplica(3, 'RotateReplicaKey', payload, { identity: replicas[0]!.identity })).rejects(t, Rejection.replicaNotFound)
  given().when(byReplica(0, 'RotateReplicaKey', payload, { identity: crypto.slhDsaShake256f.keygen() })).rejects(t, Rejection.badSignature)
})
