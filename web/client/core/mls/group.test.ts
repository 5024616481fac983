// Group flows with the PQ suite, under ledger ordering: create, add by Welcome,
// messages, removal, racing commits, storage. Also prints per-operation timings.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { applyLedgerHandshake, applyOwnCommit, discardPending, processCommit, proposeAddMembers, proposeRemoveMembers, proposeSelfUpdate, type PendingCommit } from './commit.ts'
import { createGroup, epochAuthenticator, groupEpoch, groupMembers, isActive, joinFromWelcome, exportRatchetTree, type Group } from './group.ts'
import { decodeGroup, encodeGroup } from './groupStore.ts'
import { generateKeyPackages, parseKeyPackage } from './keyPackages.ts'
import { createMember, mlsSignaturePublicKey, type Member } from './member.ts'
import { decryptMessage, encryptMessage } from './message.ts'
import { MlsClientError, MlsErrorCode } from './errors.ts'
import { peekMessage } from './wire.ts'
import { MLS_SUITE_NAME, mlsSuite } from './suite.ts'

const te = new TextEncoder()
const td = new TextDecoder()
const timings = new Map<string, number[]>()
async function timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now()
  const out = await fn()
  const list = timings.get(op) ?? []
  list.push(performance.now() - start)
  timings.set(op, list)
  return out
}

async function rejectsWith(t: Test, p: Promise<unknown>, code: string, msg: string): Promise<void> {
  try {
    await p
    t.fail(`${msg}: expected ${code}, resolved`)
  } catch (e) {
    t.ok(e instanceof MlsClientError, `${msg}: MlsClientError`)
    t.equal((e as MlsClientError).code, code, msg)
  }
}

type Device = { member: Member; group?: Group }

async function newDevice(userId: string): Promise<Device> {
  return { member: await timed('createMember (ML-DSA-87 keygen)', () => createMember({ userId, deviceId: `${userId}-laptop` })) }
}

async function publish(d: Device): Promise<Uint8Array> {
  const res = await timed('generateKeyPackages(1)', () => generateKeyPackages(d.member, 1))
  d.member = res.member
  return res.packages[0]!.bytes
}

async function join(d: Device, welcome: Uint8Array | undefined): Promise<void> {
  if (welcome === undefined) throw new Error('no welcome')
  const res = await timed('joinFromWelcome', () => joinFromWelcome(d.member, welcome))
  d.member = res.member
  d.group = res.group
}

function g(d: Device): Group {
  if (d.group === undefined) throw new Error('no group')
  return d.group
}

async function send(from: Device, text: string): Promise<Uint8Array> {
  const res = await timed('encryptMessage', () => encryptMessage(g(from), te.encode(text)))
  from.group = res.group
  return res.message
}

async function readAs(t: Test, d: Device, message: Uint8Array, text: string, fromUser: string): Promise<void> {
  const res = await timed('decryptMessage', () => decryptMessage(g(d), message))
  d.group = res.group
  t.equal(td.decode(res.plaintext), text, `${d.member.identity.userId} reads "${text}"`)
  t.equal(res.sender.identity.userId, fromUser, `${d.member.identity.userId} sees sender ${fromUser}`)
}

async function commitAndDistribute(committer: Device, pending: PendingCommit, others: Device[]): Promise<void> {
  committer.group = applyOwnCommit(g(committer), pending)
  for (const o of others) {
    const res = await timed('processCommit', () => processCommit(g(o), pending.commit))
    o.group = res.group
  }
}

function sameEpoch(t: Test, devices: Device[], what: string): void {
  const ref = Buffer.from(epochAuthenticator(g(devices[0]!))).toString('hex')
  for (const d of devices) t.equal(Buffer.from(epochAuthenticator(g(d))).toString('hex'), ref, `${what}: ${d.member.identity.userId} agrees on the epoch`)
}

t.test('PQ suite loads and is what Zixt asks for', async (t) => {
  const cs = await mlsSuite()
  t.equal(cs.name, MLS_SUITE_NAME)
  t.equal(cs.name, 'MLS_256_MLKEM1024_AES256GCM_SHA512_MLDSA87')
})

t.test('thread lifecycle: 3 members, add a 4th by Welcome, remove one, racing commits, storage', async (t) => {
  const [alice, bob, carol, dave] = [await newDevice('alice'), await newDevice('bob'), await newDevice('carol'), await newDevice('dave')]
  t.equal(mlsSignaturePublicKey(alice.member).length, 2592, 'ML-DSA-87 public key exposed for certification')
  const groupId = te.encode('thread:project-discussion')
  await t.rejects(createGroup(alice.member, te.encode('short')), { code: MlsErrorCode.malformed }, 'group id below mlsGroupIdBytesMin')
  alice.group = await timed('createGroup', () => createGroup(alice.member, groupId))

  // Alice adds Bob and Carol in one commit; she applies it only once the ledger accepted it.
  const add1 = await timed('proposeAddMembers(2)', async () => proposeAddMembers(g(alice), [await publish(bob), await publish(carol)]))
  t.equal(groupEpoch(g(alice)), 0n, 'the creator stays at epoch 0 until the ledger accepts her commit')
  t.equal(add1.addedKeyPackageRefs.length, 2)
  const head = peekMessage(add1.commit)
  t.same(head.kind === 'private' && [head.epoch, head.contentType], [0n, 'commit'], 'the DS sees (group, epoch 0, commit) in clear')
  await commitAndDistribute(alice, add1, [])
  await join(bob, add1.welcome)
  await join(carol, add1.welcome)
  t.equal(bob.member.keyPackages.length, 0, 'the used key package is forgotten')
  sameEpoch(t, [alice, bob, carol], 'after adding bob+carol')
  t.same(groupMembers(g(carol)).map((m) => m.identity.userId), ['alice', 'bob', 'carol'])

  // Dave joins the 3-member group by Welcome (ratchet tree inside the Welcome).
  const add2 = await timed('proposeAddMembers(1)', async () => proposeAddMembers(g(bob), [await publish(dave)]))
  await commitAndDistribute(bob, add2, [alice, carol])
  await join(dave, add2.welcome)
  sameEpoch(t, [alice, bob, carol, dave], 'after adding dave')
  t.equal(groupEpoch(g(dave)), 2n)

  for (const [from, text] of [[alice, 'hello all'], [dave, 'hi, dave here'], [carol, 'welcome dave']] as const) {
    const msg = await send(from, text)
    for (const to of [alice, bob, carol, dave]) if (to !== from) await readAs(t, to, msg, text, from.member.identity.userId)
  }

  // A message from before the removal, delivered late, still reads for carol.
  const beforeRemoval = await send(bob, 'last one carol sees')

  // Alice removes Carol: secrets rotate, Carol cannot read what is sent afterwards.
  const rm = await timed('proposeRemoveMembers(1)', () => proposeRemoveMembers(g(alice), [{ userId: 'carol' }]))
  t.equal(rm.welcome, undefined)
  await commitAndDistribute(alice, rm, [bob, dave])
  const carolSeesRemoval = await processCommit(g(carol), rm.commit)
  t.equal(carolSeesRemoval.kind, 'removed', 'carol learns she was removed')
  carol.group = carolSeesRemoval.group
  t.notOk(isActive(g(carol)))
  sameEpoch(t, [alice, bob, dave], 'after removing carol')
  t.same(groupMembers(g(alice)).map((m) => m.identity.userId), ['alice', 'bob', 'dave'])
  t.notSame(epochAuthenticator(g(alice)), epochAuthenticator(g(carol)), 'carol is left behind in the old epoch')

  await readAs(t, carol, beforeRemoval, 'last one carol sees', 'bob')
  const afterRemoval = await send(bob, 'carol must not read this')
  await readAs(t, alice, afterRemoval, 'carol must not read this', 'bob')
  await readAs(t, dave, afterRemoval, 'carol must not read this', 'bob')
  await rejectsWith(t, decryptMessage(g(carol), afterRemoval), MlsErrorCode.wrongEpoch, 'removed carol cannot decrypt a message sent after')
  await rejectsWith(t, encryptMessage(g(carol), te.encode('x')), MlsErrorCode.notMember, 'removed carol cannot send')
  await rejectsWith(t, proposeSelfUpdate(g(carol)), MlsErrorCode.notMember, 'removed carol cannot commit')

  // Racing commits for the same epoch: the ledger orders Bob's first.
  const epoch = groupEpoch(g(alice))
  const aliceCommit = await timed('proposeSelfUpdate', () => proposeSelfUpdate(g(alice)))
  const bobCommit = await timed('proposeSelfUpdate', () => proposeSelfUpdate(g(bob)))
  t.equal(aliceCommit.epoch, epoch)
  t.equal(bobCommit.epoch, epoch)
  const ledger = [bobCommit.commit, aliceCommit.commit] // what the ledger would hand out (it would reject the second)
  const atBob = await applyLedgerHandshake(g(bob), ledger[0]!, bobCommit)
  t.equal(atBob.kind, 'ownCommitApplied')
  bob.group = atBob.kind === 'ownCommitApplied' ? atBob.group : undefined
  const atAlice = await applyLedgerHandshake(g(alice), ledger[0]!, aliceCommit)
  t.same(atAlice.kind === 'commitProcessed' && [atAlice.pendingDiscarded, atAlice.result.kind], [true, 'applied'], 'alice processes the winner and drops hers')
  alice.group = atAlice.kind === 'commitProcessed' ? atAlice.result.group : undefined
  const atDave = await applyLedgerHandshake(g(dave), ledger[0]!)
  dave.group = atDave.kind === 'commitProcessed' ? atDave.result.group : undefined
  sameEpoch(t, [alice, bob, dave], 'after the race')
  t.equal(groupEpoch(g(dave)), epoch + 1n)
  for (const d of [alice, bob, dave]) {
    await rejectsWith(t, processCommit(g(d), ledger[1]!), MlsErrorCode.wrongEpoch, `the losing commit fails for ${d.member.identity.userId}`)
  }
  await t.rejects(async () => applyOwnCommit(g(alice), aliceCommit), { code: MlsErrorCode.wrongEpoch }, 'a stale pending commit cannot be applied')
  t.equal(discardPending(g(alice), aliceCommit), g(alice))
  const afterRace = await send(alice, 'after the race')
  await readAs(t, bob, afterRace, 'after the race', 'alice')
  await readAs(t, dave, afterRace, 'after the race', 'alice')

  // Storage: dave's group survives a reload (IndexedDB) and keeps working.
  const stored = encodeGroup(g(dave))
  t.comment(`stored group state for 3 members: ${stored.length} bytes`)
  dave.group = decodeGroup(stored)
  const afterReload = await send(bob, 'after reload')
  await readAs(t, dave, afterReload, 'after reload', 'bob')
  const daveReply = await send(dave, 'reply after reload')
  await readAs(t, alice, daveReply, 'reply after reload', 'dave')
  t.throws(() => decodeGroup(stored.subarray(0, stored.length - 1)), { code: MlsErrorCode.malformed }, 'truncated state is rejected')

  // Tampering: a flipped byte in a message fails authentication.
  const msg = await send(alice, 'integrity')
  const bad = msg.slice()
  bad[bad.length - 20]! ^= 1
  await rejectsWith(t, decryptMessage(g(bob), bad), MlsErrorCode.rejected, 'flipped ciphertext byte is rejected')
  await readAs(t, bob, msg, 'integrity', 'alice')
  await rejectsWith(t, decryptMessage(g(bob), msg), MlsErrorCode.rejected, 'a replayed message is rejected (its key was consumed)')

  // Sizes that matter to the ledger limits.
  t.comment(`sizes: key package ${(await publish(carol)).length} B, add-commit ${add2.commit.length} B, welcome(4 members, tree inside) ${add2.welcome!.length} B, remove-commit ${rm.commit.length} B, text message ${afterRace.length} B, ratchet tree ${exportRatchetTree(g(alice)).length} B`)
})

t.test('key packages: ref, last resort, validation, welcome addressing', async (t) => {
  const erin = await createMember({ userId: 'erin', deviceId: 'phone' })
  const gen = await generateKeyPackages(erin, 2)
  t.equal(gen.packages.length, 2)
  t.equal(gen.member.keyPackages.length, 2)
  t.equal(erin.keyPackages.length, 0, 'the input member is not mutated')
  const kp = gen.packages[0]!
  // RFC 9420 §5.2: KeyPackageRef = SHA-512(RefHashInput{ label<V>, value<V> }) over the KeyPackage (MLSMessage minus version+wireformat).
  const label = te.encode('MLS 1.0 KeyPackage Reference')
  const value = kp.bytes.subarray(4)
  const varint = (n: number) => (n < 64 ? [n] : n < 16384 ? [0x40 | (n >> 8), n & 0xff] : [0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff])
  const input = Buffer.concat([Buffer.from(varint(label.length)), label, Buffer.from(varint(value.length)), value])
  t.equal(Buffer.from(kp.ref).toString('hex'), createHash('sha512').update(input).digest('hex'), 'ref is the RFC 9420 RefHash')
  const parsed = await parseKeyPackage(kp.bytes)
  t.same(parsed.identity, { userId: 'erin', deviceId: 'phone' })
  t.equal(parsed.lastResort, false)
  t.same(parsed.signaturePublicKey, erin.signatureKeys.publicKey)

  const flipped = kp.bytes.slice()
  flipped[flipped.length - 100]! ^= 1
  await t.rejects(parseKeyPackage(flipped), { code: MlsErrorCode.rejected }, 'a flipped byte breaks the key package signature')
  await t.rejects(parseKeyPackage(kp.bytes.subarray(0, 200)), { code: MlsErrorCode.malformed }, 'truncated key package')
  await t.rejects(parseKeyPackage(new Uint8Array([...kp.bytes, 0])), { code: MlsErrorCode.malformed }, 'trailing byte')
  await t.rejects(generateKeyPackages(erin, 33), { code: MlsErrorCode.tooLarge }, 'count above keyPackagesPerPublishMax')

  const lr = await generateKeyPackages(gen.member, 1, { lastResort: true })
  t.equal((await parseKeyPackage(lr.packages[0]!.bytes)).lastResort, true, 'last_resort extension is visible to the claimer')
  const frank = await createMember({ userId: 'frank', deviceId: 'desk' })
  const group = await createGroup(frank, te.encode('thread:last-resort-test'))
  const add = await proposeAddMembers(group, [lr.packages[0]!.bytes])
  const joined = await joinFromWelcome(lr.member, add.welcome!)
  t.equal(joined.member.keyPackages.length, 3, 'a last-resort package is kept after use')
  const stranger = await createMember({ userId: 'gina', deviceId: 'x' })
  await t.rejects(joinFromWelcome(stranger, add.welcome!), { code: MlsErrorCode.notMember }, 'a welcome for someone else')
  await t.rejects(proposeAddMembers(applyOwnCommit(group, add), [gen.packages[1]!.bytes]), { code: MlsErrorCode.rejected }, 'the same device cannot be added twice')
})

t.test('a Welcome must open the expected group and epoch, or it is refused and the key package kept', async (t) => {
  const alice = await newDevice('alice')
  const bob = await newDevice('bob')
  const groupA = te.encode('thread:A-expected-group-test')
  alice.group = await createGroup(alice.member, groupA)
  const pending = await proposeAddMembers(g(alice), [await publish(bob)])
  const welcome = pending.welcome!
  const before = bob.member
  await rejectsWith(t, joinFromWelcome(bob.member, welcome, { expected: { groupId: te.encode('thread:C-expected-group-test'), epoch: 1n } }), MlsErrorCode.wrongGroup, 'another thread\'s group id')
  await rejectsWith(t, joinFromWelcome(bob.member, welcome, { expected: { groupId: groupA, epoch: 2n } }), MlsErrorCode.wrongEpoch, 'another epoch')
  t.equal(bob.member, before, 'the refused joins consumed nothing')
  const res = await joinFromWelcome(bob.member, welcome, { expected: { groupId: groupA, epoch: 1n } })
  t.equal(groupEpoch(res.group), 1n, 'the right group and epoch join')
  t.equal(res.member.keyPackages.length, before.keyPackages.length - 1, 'and consume the key package')
})

t.teardown(() => {
  const rows = [...timings].map(([op, xs]) => {
    const avg = xs.reduce((a, b) => a + b, 0) / xs.length
    return `  ${op.padEnd(34)} n=${String(xs.length).padStart(2)}  avg ${avg.toFixed(1).padStart(7)} ms  max ${Math.max(...xs).toFixed(1).padStart(7)} ms`
  })
  console.log(`# MLS timings (${MLS_SUITE_NAME}, Node ${process.version})\n${rows.map((r) => `#${r}`).join('\n')}`)
})
