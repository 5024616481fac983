// The certification chain identity key → device key (ledger) → MLS signature key
// (credential): checkCredential's verdicts, and the check wired into real groups.
import t, { type Test } from 'tap'
import { nativeCrypto } from '../../../../domain/crypto/native.ts'
import { nobleCrypto } from '../../../../domain/crypto/noble.ts'
import { signMlsKeyCertificate } from '../../../../domain/identity.ts'
import type { KeyPair } from '../../../../domain/crypto/types.ts'
import { proposeAddMembers } from './commit.ts'
import { checkCredential, type DeviceDirectory, type LedgerDevice } from './credentialCheck.ts'
import { MlsClientError, MlsErrorCode } from './errors.ts'
import { createGroup, joinFromWelcome, type GroupOptions } from './group.ts'
import { credentialFor, decodeCredentialContent, encodeIdentity, type MemberIdentity, type MlsKeyCertificate } from './identity.ts'
import { generateKeyPackages, parseKeyPackage } from './keyPackages.ts'
import { certifyMember, createMember, mlsSignaturePublicKey, type Member } from './member.ts'
import { limits } from '../../../../domain/limits.ts'

const issuedAt = 1_750_000_000_000

type Device = { identity: MemberIdentity; deviceKey: KeyPair; member: Member }

function certify(identity: MemberIdentity, mlsKey: Uint8Array, deviceKey: KeyPair): MlsKeyCertificate {
  return { issuedAt, signature: signMlsKeyCertificate({ ...identity, mlsSignaturePublicKey: mlsKey, issuedAt, deviceSecretKey: deviceKey.secretKey }, nativeCrypto) }
}

async function device(userId: string, deviceId: string): Promise<Device> {
  const identity = { userId, deviceId }
  const deviceKey = nativeCrypto.mlDsa65.keygen()
  const member = await createMember(identity)
  return { identity, deviceKey, member: certifyMember(member, certify(identity, mlsSignaturePublicKey(member), deviceKey)) }
}

/** The ledger's devices, as the read model would give them. */
function ledger(entries: [Device, LedgerDevice['status']][]): { directory: DeviceDirectory; calls: boolean[] } {
  const calls: boolean[] = []
  const directory: DeviceDirectory = async (userId, fresh) => {
    calls.push(fresh)
    const mine = entries.filter(([d]) => d.identity.userId === userId)
    if (mine.length === 0) return undefined
    return mine.map(([d, status]) => ({ deviceId: d.identity.deviceId, publicKey: d.deviceKey.publicKey, status }))
  }
  return { directory, calls }
}

const alice = await device('alice', 'alice-laptop')
const bob = await device('bob', 'bob-phone')
const mallory = await device('mallory', 'mallory-pc')

function input(d: Device, over: Partial<{ identity: MemberIdentity; signaturePublicKey: Uint8Array; certificate: MlsKeyCertificate | undefined }> = {}) {
  return { identity: d.identity, signaturePublicKey: mlsSignaturePublicKey(d.member), certificate: d.member.certificate, ...over }
}

t.test('checkCredential: each broken link is its own verdict', async (t) => {
  const { directory, calls } = ledger([[alice, 'active'], [bob, 'revoked'], [mallory, 'active']])
  for (const crypto of [nativeCrypto, nobleCrypto]) {
    t.same(await checkCredential(input(alice), directory, crypto), { kind: 'valid' }, `certified by a registered device (${crypto.backend})`)
  }
  t.same(calls, [false, false], 'a valid credential is settled from the cache')

  const reason = async (i: Parameters<typeof checkCredential>[0]) => {
    const v = await checkCredential(i, directory, nobleCrypto)
    return v.kind === 'valid' ? 'valid' : v.reason
  }
  t.equal(await reason(input(alice, { certificate: undefined })), 'noCertificate', 'no certificate')
  t.equal(await reason(input(bob)), 'revokedDevice', 'a certificate by a revoked device')
  const ghost = { userId: 'alice', deviceId: 'alice-old-tablet' }
  t.equal(await reason(input(alice, { identity: ghost, certificate: certify(ghost, mlsSignaturePublicKey(alice.member), alice.deviceKey) })), 'unknownDevice', 'a device the ledger does not know')
  t.equal(await reason(input(alice, { identity: { userId: 'nobody', deviceId: 'x' } })), 'unknownDevice', 'a user the ledger does not know')
  // Mallory's registered device certifies a key in Alice's name: the signed userId is Alice's,
  // but the device is not one of Alice's.
  const inAlicesName = { userId: 'alice', deviceId: mallory.identity.deviceId }
  t.equal(await reason(input(mallory, { identity: inAlicesName, certificate: certify(inAlicesName, mlsSignaturePublicKey(mallory.member), mallory.deviceKey) })), 'unknownDevice', 'a certificate for another user (by a device of someone else)')
  // Alice's certificate moved into a credential naming Mallory (same device id trick).
  t.equal(await reason(input(alice, { identity: { userId: 'mallory', deviceId: mallory.identity.deviceId } })), 'badCertificate', 'a certificate for another user (signed for Alice)')
  // A leaf whose signature key is not the one the certificate covers.
  t.equal(await reason(input(alice, { signaturePublicKey: mlsSignaturePublicKey(mallory.member) })), 'badCertificate', 'a signature key not matching the leaf’s')
  t.equal(await reason(input(alice, { certificate: { issuedAt: issuedAt + 1, signature: alice.member.certificate!.signature } })), 'badCertificate', 'issuedAt changed')
  t.equal(await reason(input(alice, { certificate: certify(alice.identity, mlsSignaturePublicKey(alice.member), mallory.deviceKey) })), 'badCertificate', 'signed by another device key')

  calls.length = 0
  await reason(input(alice, { certificate: certify(alice.identity, mlsSignaturePublicKey(alice.member), mallory.deviceKey) }))
  t.same(calls, [false, true], 'a failed check asks the ledger again once (a key rotated since the cache filled)')
  calls.length = 0
  await reason(input(bob))
  t.same(calls, [false], 'a revoked device is final')
})

t.test('credential bytes: the certificate travels in the basic credential; key packages stay under limits.keyPackageBytesMax', async (t) => {
  t.same(decodeCredentialContent(encodeIdentity(alice.identity, alice.member.certificate)), { identity: alice.identity, certificate: alice.member.certificate })
  t.same(decodeCredentialContent(encodeIdentity(alice.identity)), { identity: alice.identity, certificate: undefined }, 'the plain form still decodes')
  const { packages } = await generateKeyPackages(alice.member, 1)
  const parsed = await parseKeyPackage(packages[0]!.bytes)
  t.same(parsed.certificate, alice.member.certificate, 'parseKeyPackage returns the certificate')
  t.ok(packages[0]!.bytes.length <= limits.keyPackageBytesMax, `key package ${packages[0]!.bytes.length} bytes ≤ ${limits.keyPackageBytesMax}`)
  t.comment(`key package with certificate: ${packages[0]!.bytes.length} bytes`)
  const bad = { issuedAt, signature: new Uint8Array(10) }
  t.throws(() => credentialFor(alice.identity, bad), { code: MlsErrorCode.malformed }, 'a certificate of the wrong size is refused when encoding')
})

async function rejects(t: Test, p: Promise<unknown>, code: string, msg: string): Promise<void> {
  try {
    await p
    t.fail(`${msg}: resolved`)
  } catch (e) {
    t.ok(e instanceof MlsClientError && e.code === code, `${msg}: ${(e as Error).message}`)
  }
}

t.test('in a group: a Welcome whose tree holds an uncertified or revoked leaf is refused', async (t) => {
  const uncertified = { ...bob, member: await createMember(bob.identity) }
  const carol = await device('carol', 'carol-laptop')
  const opts = (entries: [Device, LedgerDevice['status']][]): GroupOptions => {
    const { directory } = ledger(entries)
    return { validateCredential: async (identity, key, cert) => (await checkCredential({ identity, signaturePublicKey: key, certificate: cert }, directory, nativeCrypto)).kind === 'valid' }
  }
  // `checked`: the committer runs the check too; false: a committer that skips it (forger).
  const run = async (second: Device, secondStatus: LedgerDevice['status'], checked = false) => {
    const all: [Device, LedgerDevice['status']][] = [[alice, 'active'], [second, secondStatus], [carol, 'active']]
    const group = await createGroup(alice.member, new Uint8Array(32).fill(7), checked ? opts(all) : {})
    const kp2 = await generateKeyPackages(second.member, 1)
    const kp3 = await generateKeyPackages(carol.member, 1)
    const pending = await proposeAddMembers(group, [kp2.packages[0]!.bytes, kp3.packages[0]!.bytes])
    return joinFromWelcome(kp3.member, pending.welcome!, opts(all))
  }
  const ok = await run(bob, 'active')
  t.ok(ok.group, 'all leaves certified by active devices: joined')
  await rejects(t, run(uncertified, 'active'), MlsErrorCode.rejected, 'the joiner refuses a leaf without a certificate')
  await rejects(t, run(bob, 'revoked'), MlsErrorCode.rejected, 'the joiner refuses a leaf certified by a revoked device')
  await rejects(t, run(uncertified, 'active', true), MlsErrorCode.rejected, 'a checking committer refuses to add it in the first place')
})
