// Seeded whole-cluster runs. Every run checks safety (no two correct replicas hold different
// blocks at one height, every acknowledged result is in the ledger) and liveness (with at
// most f faulty replicas and eventual delivery, every submitted command is acknowledged by
// f+1 matching replies).
import t, { type Test } from 'tap'
import { behaviours, lossy, simulate, type SimOptions } from './simulator.ts'

function check(t: Test, o: SimOptions): ReturnType<typeof simulate> {
  const r = simulate(o)
  t.same(r.violations, [], `seed ${o.seed}: no safety violation`)
  t.ok(r.ledgerMatches, `seed ${o.seed}: correct replicas hold identical ledgers`)
  t.equal(r.acknowledged, r.submitted, `seed ${o.seed}: every submitted command acknowledged (heights ${r.heights.join(',')}, view ${r.maxView})`)
  return r
}

t.test('lossy network, all replicas correct', async (t) => {
  for (let seed = 1; seed <= 12; seed++) check(t, { seed, commands: 100, ...lossy })
})

t.test('a crashed replica, restarted with its disk or wiped', async (t) => {
  for (let seed = 1; seed <= 12; seed++) {
    check(t, { seed, commands: 100, ...lossy, crash: { replica: seed % 4, atMs: 200, restartAtMs: 1500, wipe: seed % 2 === 0 } })
  }
})

t.test('a replica restarted behind a cluster that has gone quiet catches up without new traffic', async (t) => {
  // deafMs: the answer to its first probe is lost (its peers have not redialled it yet).
  for (const deafMs of [0, 150]) {
    for (let seed = 1; seed <= 4; seed++) {
      const what = `deaf ${deafMs} ms, seed ${seed}`
      const r = simulate({ seed, commands: 60, crash: { replica: seed % 4, atMs: 150, restartAtMs: 6000, deafMs }, timeLimitMs: 60_000 })
      t.same(r.violations, [], `${what}: no safety violation`)
      t.equal(r.acknowledged, r.submitted, `${what}: every command acknowledged before the restart`)
      t.ok(r.heights.every((h) => h === r.heights[0]), `${what}: every replica at the same height (${r.heights.join(',')})`)
    }
  }
})

t.test('a restarted replica its peers have not redialled misses what they commit, then catches up from a quiet cluster', async (t) => {
  // The peers commit every command sent just after the restart before their channels to the
  // restarted replica are up, then go quiet; it holds those commands (some rejected, which
  // no block records) as pending. Deaf for less than half a view timeout, it must catch up
  // without suspecting the correct primary; deaf for longer, it has already changed views
  // alone, and must still catch up.
  for (const deafMs of [150, 600]) {
    for (let seed = 1; seed <= 6; seed++) {
      const replica = 1 + (seed % 3)
      const r = simulate({ seed, commands: 20, commandsAfterRestart: 12, crash: { replica, atMs: 150, restartAtMs: 1000, deafMs }, timeLimitMs: 60_000 })
      const what = `deaf ${deafMs} ms, seed ${seed}`
      t.same(r.violations, [], `${what}: no safety violation`)
      t.equal(r.acknowledged, r.submitted, `${what}: every command acknowledged`)
      t.ok(r.heights.every((h) => h === r.heights[0]), `${what}: replica ${replica} caught up (heights ${r.heights.join(',')}, view ${r.maxView})`)
      if (deafMs === 150) t.equal(r.viewChanges, 0, `${what}: no view change`)
    }
  }
})

t.test('a replica that gave up on a view alone waits there, and the others find it there when the primary fails', async (t) => {
  // Deaf for 8 s after its restart, the replica suspects the correct primary alone. PBFT
  // §4.5.2: it moves on to the view after only once 2f+1 want the view it asked for, so it
  // stays at view 1 (the code before climbed to view 5 or 6 while the others stayed in 0).
  // Back in touch, it catches up by state transfer; then the primary stops for good, and the
  // others' view change to 1 finds it there.
  for (let seed = 1; seed <= 4; seed++) {
    const replica = 1 + (seed % 3)
    const what = `seed ${seed}, replica ${replica} deaf`
    const base = { seed, commands: 20, commandsAfterRestart: 40, submitEveryMs: 100, crash: { replica, atMs: 150, restartAtMs: 1000, deafMs: 8000 }, timeLimitMs: 120_000 }
    const alone = check(t, base)
    t.equal(alone.maxView, 1, `${what}: it waits at view 1 (heights ${alone.heights.join(',')})`)
    t.ok(alone.heights.every((h) => h === alone.heights[0]), `${what}: it caught up`)
    const r = check(t, { ...base, commandsAfterRestart: 150, stop: { replica: 0, atMs: 12_000 } })
    t.equal(r.maxView, 1, `${what}, then the primary stops: the cluster moves to view 1, where the replica waited`)
  }
})

t.test('a replica that stays down (f = 1)', async (t) => {
  for (let seed = 1; seed <= 6; seed++) check(t, { seed, commands: 100, ...lossy, crash: { replica: seed % 4, atMs: 100 } })
})

for (const behaviour of behaviours) {
  t.test(`one Byzantine replica: ${behaviour}`, async (t) => {
    for (let seed = 1; seed <= 6; seed++) check(t, { seed, commands: 80, ...lossy, byzantine: { replica: seed % 4, behaviour } })
  })
}

t.test('Byzantine replica with real ML-DSA-65 signatures', async (t) => {
  for (const [seed, behaviour] of [[1, 'forge'], [2, 'equivocate'], [3, 'replay']] as const) {
    const r = simulate({ seed, commands: 40, ...lossy, realCrypto: true, byzantine: { replica: 0, behaviour } })
    t.same(r.violations, [], `${behaviour}: safe`)
    t.equal(r.acknowledged, r.submitted, `${behaviour}: live`)
    if (behaviour === 'forge') t.ok(r.badSignatures > 0, 'forged signatures were seen and refused')
  }
})

t.test('primary rotation and checkpoints under load', async (t) => {
  const r = simulate({ seed: 7, commands: 400, submitEveryMs: 2, delayMs: [1, 5], config: { rotateEveryBlocks: 10, batchCommandsMax: 4 } })
  t.same(r.violations, [])
  t.equal(r.acknowledged, 400)
  t.ok(r.maxView >= 5, `primary rotated (view ${r.maxView})`)
})

t.test('a replica lying in view changes while views change every few blocks', async (t) => {
  // Prepared claims are not proven (prepares are unsigned), so a liar's view change may hide a
  // block it prepared or claim one of its own making, validly signed in a view it led. With
  // the primary rotating every 3 blocks on a lossy network, view changes happen with blocks
  // in flight; the new view's counting rule must keep every committed block.
  let views = 0
  for (let seed = 1; seed <= 12; seed++) {
    views += check(t, { seed, commands: 120, submitEveryMs: 3, ...lossy, config: { rotateEveryBlocks: 3, batchCommandsMax: 4 }, byzantine: { replica: seed % 4, behaviour: 'lyingViewChange' } }).maxView
  }
  t.ok(views >= 12 * 10, `views changed (${views} in 12 runs)`)
})

t.test('a command rejected in a block some replicas took in by state transfer is still answered', async (t) => {
  // A block keeps only what committed, so a replica that executed the pre-prepare but then
  // fetched the block (a view change, lost commits) learned nothing of its rejections; it
  // answered nothing, and with only one other replica answering the client never heard f+1
  // (each of these runs left one to three commands unanswered at the 120-s limit). The
  // fetched block now brings back our own execution of its pre-prepare, rejections included.
  const rotating = { commands: 120, submitEveryMs: 3, ...lossy, config: { rotateEveryBlocks: 3, batchCommandsMax: 4 } }
  const runs: SimOptions[] = [
    { seed: 23, commands: 120, submitEveryMs: 3, ...lossy, crash: { replica: 3, atMs: 200, restartAtMs: 1500 } },
    { seed: 31, ...rotating, byzantine: { replica: 3, behaviour: 'wrongHash' } },
    { seed: 57, ...rotating, byzantine: { replica: 1, behaviour: 'bogusViewChange' } },
    { seed: 376, ...rotating, byzantine: { replica: 0, behaviour: 'lyingViewChange' } },
  ]
  for (const o of runs) t.ok(check(t, o).fetchedBlocks > 0, `seed ${o.seed}: blocks were fetched`)
})

t.test('an equivocating primary cannot make one backup answer a rejection the others never ordered', async (t) => {
  // The Byzantine primary hands one backup its batch plus a command every state rejects: the
  // block hash is the same (a rejected command leaves no trace in the block), the rejections
  // are not. Prepares and commits used to agree on the block hash and the previous
  // certificate only, so that backup committed the block on the normal path and answered the
  // extra rejection (with the primary's word, f+1 answers for a command the others never
  // ordered); taken in by state transfer, the same hash brought back its own execution. Each
  // of these runs fails with the old digest (no rejections in it), and again with the old
  // state-transfer rule (the same block hash enough).
  const rotating = { submitEveryMs: 3, config: { rotateEveryBlocks: 3, batchCommandsMax: 4 } }
  const runs: SimOptions[] = [
    { seed: 4, commands: 80, ...lossy, byzantine: { replica: 0, behaviour: 'splitRejections' } },
    { seed: 8, commands: 80, ...lossy, byzantine: { replica: 0, behaviour: 'splitRejections' } },
    { seed: 4, commands: 80, ...lossy, ...rotating, byzantine: { replica: 0, behaviour: 'splitRejections' } },
    { seed: 12, commands: 80, ...lossy, ...rotating, byzantine: { replica: 0, behaviour: 'splitRejections' } },
  ]
  for (const o of runs) t.ok(check(t, o).fetchedBlocks > 0, `seed ${o.seed}: the split backup took blocks in by state transfer`)
})

t.test('a replica that takes blocks in by state transfer while it changes views keeps its view change going', async (t) => {
  // Silent Byzantine replica, primary rotating every 3 blocks (stress bench seeds 177 and 932):
  // a correct replica in a view change caught up by state transfer, and its commit cleared
  // both the re-sending of its view change and its deadline. It waited in the view change
  // for good, silent, while another correct replica waited for 2f+1 view changes that now
  // could not come: most commands unanswered.
  for (const seed of [177, 932]) {
    check(t, { seed, commands: 120, submitEveryMs: 3, ...lossy, config: { batchCommandsMax: 4, rotateEveryBlocks: 3 }, byzantine: { replica: seed % 4, behaviour: 'silent' } })
  }
})

t.test('backups that took a rotation block in by state transfer follow the primary that left for the next view', async (t) => {
  // Byzantine replay, primary rotating every 3 blocks (stress bench seeds 143 and 381): the
  // primary committed the rotation block and moved to the next view; the correct backups took
  // that block in by state transfer, which rotates nobody, held no pending command, so had no
  // deadline, and stayed in the old view with a primary that had left it; the primary waited
  // for 2f+1 view changes. A rejected command went unanswered.
  for (const seed of [143, 381]) {
    check(t, { seed, commands: 120, submitEveryMs: 3, ...lossy, config: { batchCommandsMax: 4, rotateEveryBlocks: 3 }, byzantine: { replica: seed % 4, behaviour: 'replay' } })
  }
})

t.test('a primary whose block does not commit probes for newer blocks', async (t) => {
  // Stress bench seed 1152, splitRejections rotating: the new primary re-proposed a block the
  // others had already committed in the view before (two of them by state transfer, so they
  // had no commit to send back). Holding no pending command, nobody suspected it, and it sat
  // on its slot one height behind with a retransmitted rejected command it could not order.
  check(t, { seed: 1152, commands: 120, submitEveryMs: 3, ...lossy, config: { batchCommandsMax: 4, rotateEveryBlocks: 3 }, byzantine: { replica: 0, behaviour: 'splitRejections' } })
})

t.test('a rejection only one replica could answer is ordered again when the client asks again', async (t) => {
  // Seed 76: the primary crashed (disk wiped) right after its commit of a block with a
  // rejected command; one backup committed and answered, one never got that commit (its
  // rejection waits for 2f+1 commits that no longer exist), one never saw the pre-prepare
  // and drops the command its state rejects. The command stayed unanswered at the 120-s
  // limit. Now the primary that remembers the rejection orders the retransmitted command
  // again, and the replicas executing that block answer.
  check(t, { seed: 76, commands: 120, submitEveryMs: 3, ...lossy, crash: { replica: 0, atMs: 200, restartAtMs: 1500, wipe: true } })
})

t.test('a replayed state-transfer answer that skips our tip is not taken', async (t) => {
  // Seed 297: replica 3 held only its own proof for its tip (27) and asked the Byzantine
  // replayer for blocks from 27; an old answer starting at 28 came back, 28 was stored, and
  // the agreed certificate of 27 could never be stored after it.
  check(t, { seed: 297, commands: 120, submitEveryMs: 3, ...lossy, config: { batchCommandsMax: 4, rotateEveryBlocks: 3 }, byzantine: { replica: 1, behaviour: 'replay' } })
})

t.test('the same seed gives the same run', async (t) => {
  const o = { seed: 42, commands: 60, ...lossy, byzantine: { replica: 1, behaviour: 'wrongHash' as const } }
  const a = simulate(o)
  const b = simulate(o)
  t.same(a, b)
})

t.test('a proposal interval: fewer, fuller blocks, still safe and live under faults', async (t) => {
  const load = { commands: 400, submitEveryMs: 2, delayMs: [1, 5] as const, config: { batchCommandsMax: 50 } }
  const eager = simulate({ seed: 11, ...load })
  const held = simulate({ seed: 11, ...load, config: { ...load.config, proposeIntervalMs: 40 } })
  for (const r of [eager, held]) {
    t.same(r.violations, [])
    t.equal(r.acknowledged, 400)
  }
  const blocks = (r: typeof eager): number => Math.max(...r.heights) + 1
  // 400 commands over ≈ 800 ms: at most one block per 40 ms (plus the full ones)
  t.ok(blocks(held) <= 800 / 40 + 400 / 50 + 2, `held: ${blocks(held)} blocks`)
  t.ok(blocks(held) < blocks(eager), `fewer blocks than proposing at once (${blocks(held)} < ${blocks(eager)})`)
  for (let seed = 1; seed <= 4; seed++) {
    check(t, { seed, commands: 100, ...lossy, config: { proposeIntervalMs: 30 }, crash: { replica: seed % 4, atMs: 200, restartAtMs: 1500 } })
    check(t, { seed, commands: 80, ...lossy, config: { proposeIntervalMs: 30 }, byzantine: { replica: seed % 4, behaviour: behaviours[seed]! } })
  }
})

t.test('prepares and commits carry no protocol signature: a block costs a backup one verification, its pre-prepare', async (t) => {
  // Signed prepares cost each replica 2–3 verifications per block (3.4 per replica and block
  // with the pre-prepare and this run's checkpoints, every 8 blocks; 2.4 once the prepares
  // that could no longer count were skipped). Unsigned, over authenticated channels: the
  // backups' pre-prepare (3 of 4 replicas) and the checkpoints (1.18 in this run). Commit
  // certificate signatures are counted apart.
  const r = simulate({ seed: 5, commands: 200, submitEveryMs: 3, delayMs: [1, 8] })
  t.same(r.violations, [])
  t.equal(r.acknowledged, 200)
  const blocks = Math.min(...r.heights)
  const perReplicaBlock = r.messageVerifications / (4 * blocks)
  t.ok(perReplicaBlock < 1.3, `${perReplicaBlock.toFixed(2)} verifications per replica and block (${blocks} blocks)`)
  // Commit certificates: a replica checks 2f = 2 of the others' signatures for its quorum
  // (2.00 per replica and block in this run; later commits for a committed height are not
  // checked), and a signature in the next pre-prepare's certificate it had not checked
  // (0.48): 2.49 in all.
  const certPerReplicaBlock = r.certificateVerifications / (4 * blocks)
  t.ok(certPerReplicaBlock >= 2 && certPerReplicaBlock < 2.7, `${certPerReplicaBlock.toFixed(2)} certificate verifications per replica and block`)
  t.equal(r.badSignatures, 0)
})
