// planNewView: the new view's decision from view changes whose prepared claims are not proven
// (prepares are unsigned). f = 1, n = 4: a rule needs 2f+1 = 3 or f+1 = 2 reports.
import t from 'tap'
import type { CommitProof, PrePrepare, PrePrepared, Signed, ViewChange } from './messages.ts'
import { planNewView } from './replica.ts'

const digest = new Uint8Array(32).fill(9) // every block here carries the same previous certificate
const block = (b: number): Uint8Array => new Uint8Array(32).fill(b)
const committed = (height: number): CommitProof => ({ height, blockHash: block(200 + height), headerView: 0, certificate: [] })
const pp = (view: number, b: number, height = 5): Signed => {
  const body: PrePrepare = { type: 'prePrepare', view, height, time: 0, headerView: view, proposer: view % 4, batch: [], blockHash: block(b), rejected: [], prevCertificate: [] }
  return { from: view % 4, body, sig: new Uint8Array(0) }
}
const q = (view: number, b: number): PrePrepared => ({ view, blockHash: block(b), proposalDigest: digest })
/** A report from a replica committed at 4: what it prepared at 5 (view, block) and pre-prepared there. */
const vc = (prepared: [number, number] | null, prePrepared: PrePrepared[] = [], height = 4): ViewChange => ({
  type: 'viewChange', newView: 9, committed: committed(height), prepared: prepared === null ? null : pp(prepared[0], prepared[1], height + 1), prePrepared,
})
const plan = (vcs: ViewChange[]) => {
  const p = planNewView(vcs, 1, () => digest)
  return p.decision === 'reproposal' ? `reproposal ${p.reproposal.view}/${p.reproposal.blockHash[0]} at ${p.maxCommitted + 1}` : `${p.decision} at ${p.maxCommitted + 1}`
}

t.test('nothing prepared: a fresh batch once 2f+1 say so', async (t) => {
  t.equal(plan([vc(null), vc(null), vc(null)]), 'fresh at 5')
  t.equal(plan([vc(null), vc(null, [q(2, 1)]), vc(null)]), 'fresh at 5', 'pre-prepared but not prepared anywhere')
})

t.test('a block prepared by f+1 correct replicas is re-proposed, and a liar cannot displace it', async (t) => {
  // Block 1 committed in view 2: replicas A and B prepared it (and pre-prepared it), C saw its pre-prepare.
  const a = vc([2, 1], [q(2, 1)])
  const b = vc([2, 1], [q(2, 1)])
  const c = vc(null, [q(2, 1)])
  t.equal(plan([a, b, c]), 'reproposal 2/1 at 5')
  // The liar led view 3 and claims a block of its own, prepared there, validly signed.
  const liar = vc([3, 66], [q(3, 66)])
  t.equal(plan([liar, a, c]), 'wait at 5', 'the liar and two correct reports: the claim of view 3 has no f+1 pre-prepared, block 1 not 2f+1 uncontradicted')
  t.equal(plan([liar, a, b, c]), 'reproposal 2/1 at 5', 'the fourth report decides it for block 1')
  // The liar hides the block it prepared.
  t.equal(plan([vc(null), a, c]), 'reproposal 2/1 at 5', 'hidden: A1 by 3 reports, A2 by A and C')
  t.equal(plan([vc(null), vc(null), a]), 'wait at 5', 'a liar and one correct replica saying nothing cannot make it fresh while A holds block 1')
})

t.test('a later view wins only with the pre-prepares to show for it', async (t) => {
  // Block 1 prepared in view 2 by A alone (not committed); view 3 re-proposed nothing new, but
  // its primary's fresh block 2 was pre-prepared by B and C and prepared by B.
  const a = vc([2, 1], [q(2, 1)])
  const b = vc([3, 2], [q(3, 2)])
  const c = vc(null, [q(3, 2)])
  t.equal(plan([a, b, c]), 'reproposal 3/2 at 5', 'view 3 outranks view 2: A1 (A is lower, C is empty) and A2 (B, C)')
  t.equal(plan([a, vc(null, [q(2, 1)]), c]), 'reproposal 2/1 at 5', 'without the view-3 claim: block 1')
})

t.test('only reports about maxCommitted + 1 count', async (t) => {
  const ahead = vc(null, [], 5) // committed 5: the new view works on 6
  const behind = vc([2, 1], [q(2, 1)]) // its claim is about 5, committed by now
  t.equal(plan([ahead, behind, vc(null, [], 5)]), 'fresh at 6', 'a replica committed at 4 can have prepared nothing at 6 (it prepares only its tip + 1): its report counts as empty there')
  t.equal(plan([ahead, vc([3, 7], [q(3, 7)], 5), vc(null, [q(3, 7)], 5)]), 'reproposal 3/7 at 6', 'claims about 6 from replicas committed at 5')
})

t.test('the decision depends on the set, not on its order', async (t) => {
  const sets = [[vc([2, 1], [q(2, 1)]), vc([2, 1], [q(2, 1)]), vc([3, 66], [q(3, 66)]), vc(null, [q(2, 1)])], [vc(null), vc(null), vc([1, 5], [q(1, 5)])]]
  for (const set of sets) t.same(new Set([set, [...set].reverse(), [set[1]!, set[0]!, ...set.slice(2)]].map(plan)).size, 1)
})
