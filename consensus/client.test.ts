// When the consensus client sends a timed-out command again: only when it seems lost or the
// cluster seems stalled, never while answers keep coming for commands submitted before it.
import t from 'tap'
import { answered, gapHalfLifeMs, initialProgress, overtaken, stalled, stallProbeSize, type Progress } from './client.ts'

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
