// The read model must not depend on how the events are cut into batches. A seeded, harsh
// chat workload (read marks at old, future and non-member positions, leave and rejoin,
// double deletes, edits of deleted messages, messages with several attachments) is
// projected with batches of 1, 7, 333 and 5,000 events, stopping at several heads: every
// projection table must have the same digest at each head. So that all batch sizes being equally wrong fails too, unread_counts is
// also compared with a plain per-event model of its rules, and a scripted thread whose
// events are spread through the workload has its unread counts worked out by hand.
import t from 'tap'
import type { EventEnvelope } from '../domain/ledger/envelope.ts'
import { mysqlProjections } from './mysql/index.ts'
import { EventLog, deviceId, threadId, userId } from './testing/eventLog.ts'
import { project, rows } from './testing/given.ts'
import { SqlTx } from './sqlTx.ts'
import { createTestDb, tableDigest } from './testing/testDb.ts'

const EVENTS = 3000
const BATCHES = [1, 7, 333, 5000]

type Script = { log: EventLog; posted: number[] } // posted: message ids of the scripted thread, m1 = posted[0]

/** The hand-checked thread 'h': ha (creator), hb, hc; hd never a member. One step per call. */
function scriptSteps(s: Script): (() => void)[] {
  const { log, posted } = s
  const post = (who: string): void => { posted.push(log.post('h', who, 'scripted')) }
  const m = (i: number): number => posted[i - 1]!
  const del = (i: number): void => { log.thread('h', 'MessageDeleted', 'ha', { messageId: m(i), userId: userId('ha') }) }
  return [
    () => log.createThread('h', 'ha', ['hb', 'hc']),
    () => post('ha'), // m1
    () => post('ha'), // m2
    () => post('hb'), // m3
    () => log.read('hb', 'h', m(1)), // hb: m2 → 1
    () => post('ha'), // m4: hb 2, hc 4 (m1–m4)
    () => del(2), // hb 1, hc 3
    () => del(2), // again: nothing
    () => log.thread('h', 'MessageEdited', 'ha', { messageId: m(2), userId: userId('ha'), deviceId: deviceId('ha/1'), epoch: 0, ciphertext: 'ZWQ' }), // deleted: nothing
    () => log.thread('h', 'MemberLeft', 'hc', { userId: userId('hc') }), // hc 0
    () => post('ha'), // m5: hb 2, hc not a member
    () => log.thread('h', 'MemberAdded', 'ha', { userId: userId('hc'), by: userId('ha') }), // hc rejoins: 0
    () => post('hb'), // m6: hc 1, ha 2 (m3, m6)
    () => log.read('hc', 'h', log.events.length + 50), // a future position: hc 0
    () => post('ha'), // m7: hc 1, hb 3
    () => log.read('hb', 'h', 0), // back before hb joined: recount m1, m4, m5, m7 → 4
    () => log.read('hd', 'h', m(7)), // not a member: a row with 0
  ]
}
const BY_HAND = { ha: 2, hb: 4, hc: 1, hd: 0 }

/** Deterministic: the same events every run. */
function harshWorkload(n: number, seed: number): EventEnvelope[] {
  const log = new EventLog()
  let s = seed
  const rnd = (k: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return (s >>> 8) % k
  }
  const U = 8
  const T = 4
  const name = (i: number): string => 'u' + i
  for (let i = 0; i < U; i++) log.register(name(i))
  for (const u of ['ha', 'hb', 'hc', 'hd']) log.register(u)
  const members: string[][] = []
  for (let t = 0; t < T; t++) {
    const m = [name(t), name((t + 1) % U)]
    members.push(m)
    log.createThread('t' + t, m[0]!, m.slice(1))
  }
  const posted: number[][] = members.map(() => [])
  const steps = scriptSteps({ log, posted: [] })
  let step = 0
  while (log.events.length < n) {
    if (log.events.length % 7 === 0) log.nextBlock()
    if (log.events.length % 101 === 50 && step < steps.length) { steps[step++]!(); continue }
    const t = rnd(T)
    const m = members[t]!
    const r = rnd(100)
    const ids = posted[t]!
    if (m.length === 0) { // an empty thread: someone joins again
      const j = name(rnd(U))
      m.push(j)
      log.thread('t' + t, 'MemberAdded', j, { userId: userId(j), by: userId(j) })
      continue
    }
    const who = m[rnd(m.length)]!
    if (r < 45 || ids.length === 0) {
      const attachments = r % 9 === 0 ? [{ blobId: 'ab'.repeat(32), ciphertextBytes: 10, type: 'PNG' }, { blobId: 'cd'.repeat(32), ciphertextBytes: 11, type: 'PDF' }] : []
      ids.push(log.post('t' + t, who, 'x', attachments))
    } else if (r < 60) { // a mark at an old, negative or future position, sometimes by a non-member
      log.read(r < 55 ? who : name(rnd(U)), 't' + t, rnd(log.events.length + 3) - 2)
    } else if (r < 70) { // may delete a deleted message again
      const id = ids[rnd(ids.length)]!
      log.thread('t' + t, 'MessageDeleted', who, { messageId: id, userId: log.events[id]!.payload['userId'] as string })
    } else if (r < 78) { // may edit a deleted message
      const id = ids[rnd(ids.length)]!
      log.thread('t' + t, 'MessageEdited', who, { messageId: id, userId: log.events[id]!.payload['userId'] as string, deviceId: deviceId(who + '/1'), epoch: 0, ciphertext: 'ZWQ' + r })
    } else if (r < 85) { // may add a member again (rejoin resets the joined position)
      const j = name(rnd(U))
      if (!m.includes(j)) m.push(j)
      log.thread('t' + t, 'MemberAdded', m[0]!, { userId: userId(j), by: userId(m[0]!) })
    } else if (r < 92) {
      const l = m.splice(rnd(m.length), 1)[0]!
      log.thread('t' + t, r < 89 ? 'MemberLeft' : 'MemberRemoved', l, r < 89 ? { userId: userId(l) } : { userId: userId(l), by: userId(l), reason: 'removed' })
    } else {
      log.thread('t' + t, 'MessageReacted', who, { messageId: ids[rnd(ids.length)]!, userId: userId(who), deviceId: deviceId(who + '/1'), epoch: 0, reaction: 'cmVhY3Q' })
    }
  }
  if (step < steps.length) throw new Error(`only ${step} of ${steps.length} scripted steps fit in ${n} events`)
  return log.events.slice(0, n)
}

/**
 * unread_counts by the documented rules, one event at a time: a member's count goes up
 * for each message by someone else; a read mark recounts the undeleted messages by others
 * after max(mark, joined) (0 for a non-member); joining and leaving set 0; deleting a
 * message the member still had unread (joined before it, mark before it) takes one off.
 */
function unreadModel(events: readonly EventEnvelope[]): Map<string, number> {
  const members = new Map<string, Map<string, number>>() // thread → user → joined position
  const msgs = new Map<number, { thread: string; author: string; deleted: boolean }>()
  const marks = new Map<string, number>()
  const unread = new Map<string, number>()
  const k = (u: string, th: string): string => u + '\n' + th
  const of = (th: string): Map<string, number> => {
    let m = members.get(th)
    if (m === undefined) members.set(th, (m = new Map()))
    return m
  }
  for (const e of events) {
    const p = e.payload
    const th = p['threadId'] as string
    switch (e.type) {
      case 'ThreadCreated':
        for (const u of p['members'] as string[]) { of(th).set(u, e.position); unread.set(k(u, th), 0) }
        break
      case 'MemberAdded':
        of(th).set(p['userId'] as string, e.position)
        unread.set(k(p['userId'] as string, th), 0)
        break
      case 'MemberLeft':
      case 'MemberRemoved':
        of(th).delete(p['userId'] as string)
        unread.set(k(p['userId'] as string, th), 0)
        break
      case 'MessagePosted':
        msgs.set(e.position, { thread: th, author: p['userId'] as string, deleted: false })
        for (const u of of(th).keys()) if (u !== p['userId']) unread.set(k(u, th), (unread.get(k(u, th)) ?? 0) + 1)
        break
      case 'ReadMarked': {
        const u = p['userId'] as string
        marks.set(k(u, th), p['position'] as number)
        const joined = of(th).get(u)
        let n = 0
        if (joined !== undefined) {
          const lo = Math.max(p['position'] as number, joined)
          for (const [id, m] of msgs) if (m.thread === th && id > lo && m.author !== u && !m.deleted) n++
        }
        unread.set(k(u, th), n)
        break
      }
      case 'MessageDeleted': {
        const id = p['messageId'] as number
        const m = msgs.get(id)
        if (m === undefined || m.deleted) break
        for (const [u, joined] of of(th)) {
          if (joined >= id || u === m.author || (marks.get(k(u, th)) ?? -1) >= id) continue
          const c = unread.get(k(u, th))
          if (c !== undefined && c > 0) unread.set(k(u, th), c - 1)
        }
        m.deleted = true
        break
      }
    }
  }
  return unread
}

const events = harshWorkload(EVENTS, 20261122)
const tables = mysqlProjections.flatMap((p) => p.tables)
// the runner stops at each of these heads and the tables are compared there too: a wrong
// count is often wiped later (a recount on the next read mark, a reset on leave/rejoin)
const HEADS = [389, 800, 1151, 1523, 1999, 2417, 2753, EVENTS]
const models = new Map(HEADS.map((h) => [h, unreadModel(events.slice(0, h))]))
const digests = new Map<number, Record<string, string>[]>() // batch → digests at HEADS

for (const batch of BATCHES) {
  t.test(`batches of ${batch} events`, async (t) => {
    const db = await createTestDb()
    t.teardown(() => db.drop())
    const at: Record<string, string>[] = []
    digests.set(batch, at)
    let wrong = 0
    let nonZero = 0
    for (const head of HEADS) {
      const conn = await project(db, events.slice(0, head), batch) // continues from the checkpoint
      try {
        at.push(await tableDigest(conn, tables))
        const model = models.get(head)!
        const got = await rows<{ user_id: string; thread_id: string; unread_count: number }>(conn,
          'SELECT user_id, thread_id, unread_count FROM unread_counts ORDER BY user_id, thread_id')
        const bad = got.filter((r) => model.get(r.user_id + '\n' + r.thread_id) !== Number(r.unread_count))
        wrong += bad.length
        nonZero += got.filter((r) => Number(r.unread_count) > 0).length
        t.equal(got.length, model.size, `head ${head}: one unread_counts row per pair the model has (${model.size})`)
        t.same(bad.slice(0, 5).map((r) => ({ ...r, model: model.get(r.user_id + '\n' + r.thread_id) })), [], `head ${head}: every unread count equals the per-event model (${bad.length} differ)`)
        if (head === EVENTS) {
          const h = await rows<{ user_id: string; unread_count: number }>(conn, 'SELECT user_id, unread_count FROM unread_counts WHERE thread_id = ?', [threadId('h')])
          const byName = Object.fromEntries(Object.keys(BY_HAND).map((u) => [u, h.find((r) => r.user_id === userId(u))?.unread_count ?? 'no row']))
          t.same(byName, BY_HAND, 'scripted thread: unread counts worked out by hand')
        }
      } finally {
        await conn.end()
      }
    }
    t.ok(nonZero >= 50, `non-zero unread counts compared (${nonZero}); ${wrong} wrong`)
  })
}

t.test('every projection table has the same digest at every batch size', async (t) => {
  const one = digests.get(1)!
  t.ok(['messages', 'attachments', 'memberships', 'read_marks', 'unread_counts', 'reactions'].every((x) => !one.at(-1)![x]!.startsWith('0:')), 'the tables that matter are not empty')
  for (const batch of BATCHES.slice(1)) {
    const other = digests.get(batch)!
    for (const [i, head] of HEADS.entries()) {
      const differ = tables.filter((x) => other[i]![x] !== one[i]![x])
      t.same(differ, [], `head ${head}: every table of batches of ${batch} equals batches of 1`)
    }
  }
})

// The projections above now write each table with one upsert shape per batch, so the
// SqlTx rule they relied on (rows of one table are sent in the order they were added, even
// under different ON DUPLICATE clauses) is checked here directly: add 1, set 0, add 1 → 1.
t.test('SqlTx keeps the order of upserts of one table under different clauses', async (t) => {
  const db = await createTestDb()
  t.teardown(() => db.drop())
  const conn = await db.connect()
  t.teardown(() => conn.end())
  const tx = new SqlTx(conn, '')
  const row = (count: number, position: number) => ({ user_id: userId('a'), thread_id: threadId('x'), unread_count: count, position })
  const add = 'unread_count = unread_count + VALUES(unread_count), position = VALUES(position)'
  const set = 'unread_count = VALUES(unread_count), position = VALUES(position)'
  tx.insert('unread_counts', row(1, 1), add) // a message
  tx.insert('unread_counts', row(0, 2), set) // leave (or rejoin): 0
  tx.insert('unread_counts', row(1, 3), add) // another message
  await tx.flush()
  t.same(await rows(conn, 'SELECT unread_count, position FROM unread_counts'), [{ unread_count: 1, position: 3 }])
})
