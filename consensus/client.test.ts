// When the consensus client sends a timed-out command again: only when it seems lost or the
// cluster seems stalled, never while answers keep coming for commands submitted before it.
import t from 'tap'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { ErrorCode, ZixtError } from '../domain/errors.ts'
import { answered, connectClient, gapHalfLifeMs, initialProgress, overtaken, stalled, stallProbeSize, type Progress } from './client.ts'

const timeoutMs = 1000

t.test('a command queued behind answered ones is neither overtaken nor in a stall while answers flow', async (t) => {
  const p: Progress = { answeredSeqMax: 41, lastAnswerAt: 10_000, gapMs: 20 }
  t.notOk(overtaken(42, p) || stalled(p, 10_500, timeoutMs), 'the previous command was answered half a timeout ago')
  t.notOk(overtaken(900, p) || stalled(p, 10_999, timeoutMs), 'far behind in the queue, the cluster still answering')
})

t.test('a command overtaken by a later one is retransmitted', async (t) => {
  const p: Progress = { answeredSeqMax: 43, lastAnswerAt: 10_000, gapMs: 20 }
  t.ok(overtaken(42, p), 'command 43 was answered before 42')
  t.notOk(overtaken(43, p), 'the answered one itself is not behind anything')
  t.notOk(overtaken(44, p), 'a later one is still in order')
})

t.test('a stall: a timeout without answers; probes of the oldest commands double per round', async (t) => {
  const p: Progress = { answeredSeqMax: 41, lastAnswerAt: 10_000, gapMs: 20 }
  t.notOk(stalled(p, 10_999, timeoutMs), 'one ms short of a timeout without answers')
  t.ok(stalled(p, 11_000, timeoutMs), 'a whole timeout without answers')
  t.ok(stalled(initialProgress(0), timeoutMs, timeoutMs), 'a first command never answered')
  t.same([0, 1, 2, 3, 10].map(stallProbeSize), [1, 2, 4, 8, 1024])
  let sent = 0
  let rounds = 0
  for (; sent < 20_000; rounds++) sent += stallProbeSize(rounds)
  t.equal(rounds, 15, '20,000 lost commands are all sent again within 15 timeouts')
  t.equal(stallProbeSize(1000), 2 ** 30, 'capped, never Infinity')
})

t.test('blocks slower than the timeout are not a stall; the gap they showed fades', async (t) => {
  // A backlog: a block of answers every 1.5 s, each command submitted long before.
  let p = initialProgress(0)
  for (let k = 1; k <= 3; k++) p = answered(p, k * 500, 0, k * 1500)
  t.equal(p.gapMs, 1500, 'the gap is the time between blocks, not the commands\' waits')
  t.notOk(stalled(p, 4500 + 2999, timeoutMs), 'under two gaps without answers: still a backlog')
  t.ok(stalled(p, 4500 + 3000, timeoutMs), 'two gaps without answers: stalled')
  // Idle afterwards, one command: its own latency is the gap; the old 1.5 s fades.
  const later = 4500 + 4 * gapHalfLifeMs
  p = answered(p, 2001, later - 30, later)
  t.ok(p.gapMs < 100, `an idle client's gap is one answer's latency, the backlog's faded (${p.gapMs.toFixed(1)} ms)`)
  t.ok(stalled(p, later + timeoutMs, timeoutMs), 'so a lost command waits one timeout')
})

t.test('the send window: commands beyond it are held; held past half their deadline they are shed, not sent; places are given back', async (t) => {
  // No replica reachable (the directory knows none), so nothing is ever answered.
  const client = connectClient({
    peers: { lookup: () => null, all: () => [] }, n: 4, f: 1, replicaKey: () => new Uint8Array(0), keyId: 'service:test',
    secretKey: new Uint8Array(32), crypto: nativeCrypto, commandId: (b) => Buffer.from(b).toString(), retransmitMs: 50, deadlineMs: 300, windowMax: 2,
  })
  const alive = setInterval(() => {}, 1000) // the client's own timer does not hold the process open
  t.teardown(() => { client.close(); clearInterval(alive) })
  const cmd = (s: string): Uint8Array => Buffer.from(s)
  const outcomes = ['a', 'b', 'c', 'd'].map((id) => client.submit(cmd(id)).then(() => 'answered', (e: Error) => e))
  t.same(client.queued(), { out: 2, held: 2 }, 'two out (the window), two held')
  const again = client.submit(cmd('c')).then(() => 'answered', (e: Error) => e) // a held command submitted twice
  t.same(client.queued(), { out: 2, held: 2 }, 'a second submit of a held command takes no new place')
  const results = await Promise.all([...outcomes, again])
  const timedOut = (r: unknown): boolean => r instanceof ZixtError && r.code === ErrorCode.unavailable && /no f\+1 matching replies/.test(r.message)
  const shed = (r: unknown): boolean => r instanceof ZixtError && r.code === ErrorCode.unavailable && /not sent, held \d+ ms behind a full window of 2/.test(r.message) && r.details['sent'] === false
  t.ok(timedOut(results[0]) && timedOut(results[1]), 'the two out: unavailable at their deadline (they may still commit)')
  t.ok(shed(results[2]) && shed(results[3]) && shed(results[4]), 'the held ones, when their turn came past half their deadline: not sent, said so (both callers of the twice-submitted one)')
  t.equal(client.shed(), 2, 'two commands shed')
  t.same(client.queued(), { out: 0, held: 0 }, 'nothing left out or held')
  const next = client.submit(cmd('e')).catch(() => {})
  t.same(client.queued(), { out: 1, held: 0 }, 'a new command goes out at once: the expired ones gave their places back')
  client.close()
  await next
})
