// The ledger's membership against MLS commits and Welcomes: the pure rules, then forged
// commits (a committer that skips the client's checks) refused by a receiving member.
import t from 'tap'
import { processCommit, proposeAddMembers, proposeRemoveMembers, proposeSelfUpdate, applyOwnCommit } from './commit.ts'
import { MlsClientError, MlsErrorCode } from './errors.ts'
import { createGroup, groupEpoch, groupMembers, joinFromWelcome, type Group } from './group.ts'
import { generateKeyPackages } from './keyPackages.ts'
import { createMember, type Member } from './member.ts'
import { decryptMessage, encryptMessage } from './message.ts'
import { checkCommitMembership, checkWelcomeMembership, membershipAt, type MembershipEvent } from './membership.ts'

const joined = (userId: string, position: number): MembershipEvent => ({ kind: 'joined', userId, position })
const left = (userId: string, position: number): MembershipEvent => ({ kind: 'left', userId, position })
const dev = (userId: string) => ({ userId, deviceId: `${userId}-1` })

t.test('membershipAt: the latest known event before the position', async (t) => {
  const events = [joined('carol', 10), left('carol', 20), joined('carol', 30)]
  t.same(membershipAt(events, 'carol', 10), { kind: 'unknown', evidence: false }, 'an event at the position does not count yet; a join next is no evidence')
  t.same(membershipAt([left('carol', 20)], 'carol', 15), { kind: 'unknown', evidence: true }, 'a leave next: evidence of membership')
  t.same(membershipAt(events, 'carol', 11), { kind: 'member' })
  t.same(membershipAt(events, 'carol', 25), { kind: 'nonMember', since: 20 })
  t.same(membershipAt(events, 'carol', 31), { kind: 'member' })
  t.same(membershipAt(events, 'eve', 31), { kind: 'unknown', evidence: false }, 'a stranger')
})

t.test('checkCommitMembership: adds and keeps against the ledger', async (t) => {
  const events = [joined('alice', 1), joined('bob', 1), joined('carol', 1), left('carol', 20), joined('dave', 25)]
  const base = { events, epochStart: 10 }
  const ab = [dev('alice'), dev('bob')]
  t.same(checkCommitMembership({ ...base, before: ab, after: [...ab, dev('dave')], position: 30 }), { kind: 'ok' }, 'adds a member')
  t.match(checkCommitMembership({ ...base, before: ab, after: [...ab, dev('eve')], position: 30 }), { kind: 'refused', message: /adds device eve-1 of user eve, who is not a member/ }, 'adds a stranger')
  t.match(checkCommitMembership({ ...base, before: ab, after: [...ab, dev('dave')], position: 22 }), { kind: 'refused' }, 'adds a member before the ledger added them')
  t.match(checkCommitMembership({ ...base, before: ab, after: [...ab, dev('carol')], position: 30 }), { kind: 'refused', message: /not a member/ }, 're-adds a removed member')
  const abc = [...ab, dev('carol')]
  t.same(checkCommitMembership({ ...base, before: abc, after: ab, position: 21 }), { kind: 'ok' }, 'removes the removed member')
  t.match(checkCommitMembership({ ...base, before: abc, after: [...abc, dev('dave')], position: 30 }), { kind: 'refused', message: /keeps user carol, who left the thread at position 20/ }, 'a membership change that keeps a removed member')
  t.same(checkCommitMembership({ ...base, before: abc, after: abc, position: 21 }), { kind: 'ok' }, 'an update in the epoch the removal happened in is a race, not refused')
  t.match(checkCommitMembership({ ...base, epochStart: 21, before: abc, after: abc, position: 30 }), { kind: 'refused', message: /keeps user carol/ }, 'an update in a later epoch that still keeps her')
  t.same(checkCommitMembership({ events: [joined('alice', 1)], epochStart: 10, before: abc, after: abc, position: 30 }), { kind: 'ok' }, 'kept users with no known history (we were away) are not refused')
})

t.test('checkWelcomeMembership', async (t) => {
  const events = [joined('alice', 1), joined('bob', 1), joined('carol', 1), left('carol', 20), joined('dave', 25)]
  const tree = [dev('alice'), dev('bob'), dev('dave')]
  t.same(checkWelcomeMembership({ members: tree, events, position: 30, latest: true }), { kind: 'ok' })
  t.match(checkWelcomeMembership({ members: [...tree, dev('carol')], events, position: 30, latest: false }), { kind: 'refused', message: /carol/ }, 'a removed member in the tree')
  t.match(checkWelcomeMembership({ members: [...tree, dev('eve')], events, position: 30, latest: true }), { kind: 'refused', message: /eve/ }, 'a stranger in the latest group')
  t.same(checkWelcomeMembership({ members: [...tree, dev('eve')], events, position: 30, latest: false }), { kind: 'ok' }, 'a stranger later commits may have removed: not decided here')
})

// --- forged commits, processed for real ---------------------------------------------------

async function member(userId: string): Promise<Member> {
  return createMember(dev(userId))
}
async function kp(m: Member): Promise<{ member: Member; bytes: Uint8Array }> {
  const r = await generateKeyPackages(m, 1)
  return { member: r.member, bytes: r.packages[0]!.bytes }
}

t.test('a forged commit that adds a non-member is refused and leaves the group usable', async (t) => {
  // Ledger: alice created the thread with bob (position 1); the add commit is at 2.
  const events: MembershipEvent[] = [joined('alice', 1), joined('bob', 1)]
  let alice = await createGroup(await member('alice'), new Uint8Array(32).fill(1))
  const bobKp = await kp(await member('bob'))
  const addBob = await proposeAddMembers(alice, [bobKp.bytes])
  alice = applyOwnCommit(alice, addBob)
  const bobJoin = await joinFromWelcome(bobKp.member, addBob.welcome!, {
    checkMembers: (members) => {
      const v = checkWelcomeMembership({ members: members.map((m) => m.identity), events, position: 2, latest: true })
      return v.kind === 'refused' ? v.message : undefined
    },
  })
  let bob: Group = bobJoin.group
  const epochStart = 2

  // Alice's client skips the checks and adds Eve, whom the ledger never added (position 5).
  const eveKp = await kp(await member('eve'))
  const forged = await proposeAddMembers(alice, [eveKp.bytes])
  const check = (position: number) => ({
    checkMembers: ({ before, after }: { before: readonly { identity: { userId: string; deviceId: string } }[]; after: readonly { identity: { userId: string; deviceId: string } }[] }) => {
      const v = checkCommitMembership({ before: before.map((m) => m.identity), after: after.map((m) => m.identity), events, position, epochStart })
      return v.kind === 'refused' ? v.message : undefined
    },
  })
  try {
    await processCommit(bob, forged.commit, check(5))
    t.fail('the forged commit was applied')
  } catch (e) {
    t.ok(e instanceof MlsClientError && e.code === MlsErrorCode.membership, 'ZIXT_ERR_MLS_MEMBERSHIP')
    t.match((e as Error).message, /adds device eve-1 of user eve, who is not a member of the thread/, (e as Error).message)
  }
  t.equal(groupEpoch(bob), 1n, 'bob stays in the epoch before the forged commit')
  t.same(groupMembers(bob).map((m) => m.identity.userId), ['alice', 'bob'], 'eve is not in bob’s group')
  const { message } = await encryptMessage(alice, new TextEncoder().encode('still readable'))
  const read = await decryptMessage(bob, message)
  bob = read.group
  t.equal(new TextDecoder().decode(read.plaintext), 'still readable', 'bob’s group was not consumed by the refused commit')

  // The same commit, had the ledger added Eve first (position 4), is accepted.
  events.push(joined('eve', 4))
  const ok = await processCommit(bob, forged.commit, check(5))
  t.equal(ok.kind, 'applied', 'with MemberAdded(eve) before it, the same commit applies')
})

t.test('a forged commit that keeps a removed member is refused', async (t) => {
  // alice, bob, carol in the thread (1); add commit at 2; the ledger removes carol at 6.
  const events: MembershipEvent[] = [joined('alice', 1), joined('bob', 1), joined('carol', 1), left('carol', 6), joined('dave', 7)]
  let alice = await createGroup(await member('alice'), new Uint8Array(32).fill(2))
  const bobKp = await kp(await member('bob'))
  const carolKp = await kp(await member('carol'))
  const add = await proposeAddMembers(alice, [bobKp.bytes, carolKp.bytes])
  alice = applyOwnCommit(alice, add)
  const bob = (await joinFromWelcome(bobKp.member, add.welcome!)).group
  const refusal = (position: number, epochStart: number) => ({
    checkMembers: ({ before, after }: { before: readonly { identity: { userId: string; deviceId: string } }[]; after: readonly { identity: { userId: string; deviceId: string } }[] }) => {
      const v = checkCommitMembership({ before: before.map((m) => m.identity), after: after.map((m) => m.identity), events, position, epochStart })
      return v.kind === 'refused' ? v.message : undefined
    },
  })
  // Alice adds Dave at 8 but "forgets" to remove Carol: Carol would read everything after.
  const daveKp = await kp(await member('dave'))
  const keepsCarol = await proposeAddMembers(alice, [daveKp.bytes])
  try {
    await processCommit(bob, keepsCarol.commit, refusal(8, 2))
    t.fail('applied')
  } catch (e) {
    t.ok(e instanceof MlsClientError && e.code === MlsErrorCode.membership, (e as Error).message)
    t.match((e as Error).message, /keeps user carol, who left the thread at position 6/)
  }
  // A plain update keeping her: a race when the epoch began before the removal, refused after.
  const selfUpdate = await proposeSelfUpdate(alice)
  try {
    await processCommit(bob, selfUpdate.commit, refusal(9, 7))
    t.fail('applied')
  } catch (e) {
    t.match((e as Error).message, /keeps user carol/, 'an update in an epoch that began after the removal')
  }
  // The honest commit removes her.
  const removes = await proposeRemoveMembers(alice, [{ userId: 'carol' }])
  const res = await processCommit(bob, removes.commit, refusal(8, 2))
  t.equal(res.kind, 'applied', 'the commit that removes carol applies')
  t.notOk(groupMembers(res.group).some((m) => m.identity.userId === 'carol'))
})
