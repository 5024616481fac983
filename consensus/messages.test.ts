// A received pre-prepare keeps its body's bytes as they arrived, and its signature is checked
// over those: they must be exactly what encodeBody gives for the decoded body, or an honest
// primary's pre-prepare would stop verifying once forwarded inside a view change.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { decodeSigned, encodeBody, encodeSigned, proposalDigestInput, type PrePrepare, type Signed, type ViewChange } from './messages.ts'

function prePrepare(commands: number, height: number): PrePrepare {
  return {
    type: 'prePrepare', view: height % 7, height, time: 1_790_000_000_000 + height, headerView: height % 3, proposer: height % 4,
    batch: Array.from({ length: commands }, (_, i) => randomBytes(20 + ((i * 977) % 9000))),
    blockHash: randomBytes(32),
    rejected: commands > 1 ? [{ commandId: 'c'.repeat(43), code: 'ZIXT_ERR_NOT_MEMBER' }] : [],
    prevCertificate: height === 0 ? [] : [0, 1, 3].map((replica) => ({ replica, keyId: `op-${replica}-${height}`, signature: randomBytes(3309) })),
  }
}

t.test('a decoded pre-prepare carries its body bytes, equal to encodeBody of what was decoded', async (t) => {
  const cases: Array<[number, number, number]> = [[0, 0, 0], [1, 1, 3], [3, 24, 500], [255, 70_000, 3309], [1, 2 ** 40, 10]]
  for (const [from, height, sigBytes] of cases) {
    const m: Signed = { from, body: prePrepare(height % 50, height), sig: randomBytes(sigBytes) }
    const wire = encodeSigned(m)
    const got = decodeSigned(wire)
    t.ok(got.bodyBytes !== undefined, `from ${from}, height ${height}: body bytes kept`)
    t.same(got.bodyBytes, encodeBody(got.body), `from ${from}, height ${height}: the same bytes encodeBody gives`)
    t.same(got.bodyBytes, encodeBody(m.body), `from ${from}, height ${height}: the bytes the sender signed`)
    t.same(got.sig, m.sig)
  }
})

t.test('a changed byte in a command changes the body bytes: the signature no longer covers them', async (t) => {
  const m: Signed = { from: 2, body: prePrepare(5, 9), sig: randomBytes(3309) }
  const wire = encodeSigned(m)
  const command = (m.body as PrePrepare).batch[2]!
  const at = Buffer.from(wire).indexOf(Buffer.from(command))
  t.ok(at > 0, 'the command is in the message')
  const tampered = wire.slice()
  tampered[at + 7]! ^= 0x01
  const got = decodeSigned(tampered)
  t.notSame(got.bodyBytes, encodeBody(m.body), 'not the bytes the sender signed')
  t.same(got.bodyBytes, encodeBody(got.body), 'but still exactly the decoded body')
  t.same(got.sig, m.sig, 'with the sender\'s signature')
})

t.test('other messages carry no body bytes (they are small; their bodies are encoded to check)', async (t) => {
  const m: Signed = { from: 1, body: { type: 'prepare', view: 0, height: 3, blockHash: randomBytes(32), proposalDigest: randomBytes(32) }, sig: randomBytes(3309) }
  t.equal(decodeSigned(encodeSigned(m)).bodyBytes, undefined)
})

t.test('a view change: its prepared pre-prepare and pre-prepared blocks round-trip; malformed claims are refused', async (t) => {
  const inner: Signed = { from: 3, body: prePrepare(4, 12), sig: randomBytes(3309) }
  const claim = { view: 3, blockHash: randomBytes(32), proposalDigest: randomBytes(32) }
  const vc = (over: Record<string, unknown> = {}): Signed => ({
    from: 1, sig: randomBytes(3309),
    body: { type: 'viewChange', newView: 8, committed: { height: 11, blockHash: randomBytes(32), headerView: 2, certificate: [] }, prepared: inner, prePrepared: [claim], ...over } as Signed['body'],
  })
  const m = vc()
  const got = decodeSigned(encodeSigned(m))
  t.same(encodeBody(got.body), encodeBody(m.body), 'the same body back')
  const body = got.body as ViewChange
  t.same(body.prepared?.bodyBytes, undefined, 'a pre-prepare inside a view change is checked by re-encoding (it is rare)')
  t.same(encodeBody(body.prepared!.body), encodeBody(inner.body))
  const none = vc({ prepared: null, prePrepared: [] })
  t.same(encodeBody(decodeSigned(encodeSigned(none)).body), encodeBody(none.body), 'no claims')
  t.throws(() => decodeSigned(encodeSigned(vc({ prePrepared: Array.from({ length: 17 }, () => claim) }))), /prePrepared: not a list of at most 16/)
  t.throws(() => decodeSigned(encodeSigned(vc({ prePrepared: [{ ...claim, blockHash: randomBytes(31) }] }))), /blockHash: not a 32-byte hash/)
  t.throws(() => decodeSigned(encodeSigned(vc({ prePrepared: [{ view: 1, blockHash: claim.blockHash }] }))), /prePrepared\[\]: unexpected fields/)
})

t.test('proposalDigestInput covers the previous certificate and the rejections, which the block hash does not', async (t) => {
  const b = prePrepare(3, 9)
  const base = Buffer.from(proposalDigestInput(b))
  t.same(Buffer.from(proposalDigestInput({ ...b, batch: [], blockHash: randomBytes(32), view: 99 })), base, 'the batch, hash and view are named elsewhere (block hash, message)')
  const other: PrePrepare[] = [
    { ...b, rejected: [] },
    { ...b, rejected: [...b.rejected, { commandId: 'd'.repeat(43), code: 'ZIXT_ERR_NOT_MEMBER' }] }, // an extra rejected command
    { ...b, rejected: [{ ...b.rejected[0]!, code: 'ZIXT_ERR_FORBIDDEN' }] },
    { ...b, prevCertificate: b.prevCertificate.slice(0, 2) },
    { ...b, prevCertificate: [] },
  ]
  for (const o of other) t.not(Buffer.from(proposalDigestInput(o)).toString('hex'), base.toString('hex'))
  // two rejections in the other order are another proposal
  const two = { ...b, rejected: [{ commandId: 'a', code: 'X' }, { commandId: 'b', code: 'Y' }] }
  t.not(Buffer.from(proposalDigestInput(two)).toString('hex'), Buffer.from(proposalDigestInput({ ...two, rejected: [...two.rejected].reverse() })).toString('hex'))
})
