import t from 'tap'
import { encode, type Value } from './codec.ts'
import type { SignedTreeHead } from './envelope.ts'
import { decodeTreeHead, encodeTreeHead, treeHeadMessage } from './treeHead.ts'

const sth: SignedTreeHead = { treeSize: 1000, treeRoot: new Uint8Array(32).fill(0x11), time: 1_790_000_000_000, replica: 2, signature: new Uint8Array(49_856).fill(3) }

t.test('tree heads round trip', async (t) => {
  t.same(decodeTreeHead(encodeTreeHead(sth)), sth)
})

t.test('the signed message is domain-separated, pinned, and covers size, root and time', async (t) => {
  const m = treeHeadMessage(sth)
  t.equal(Buffer.from(m).toString('hex'),
    '7a6978742f7374682f763100' + 'a3' + '6474696d65' + '1b000001a0c4506c00' + '6874726565526f6f74' + '5820' + '11'.repeat(32) +
    '687472656553697a65' + '1903e8')
  t.not(Buffer.from(treeHeadMessage({ ...sth, treeSize: 1001 })).toString('hex'), Buffer.from(m).toString('hex'))
  t.not(Buffer.from(treeHeadMessage({ ...sth, time: 1 })).toString('hex'), Buffer.from(m).toString('hex'))
  const other: SignedTreeHead = { ...sth, replica: 0, signature: new Uint8Array(0) }
  t.same(treeHeadMessage(other), m, 'who signed is not part of what is signed')
})

t.test('decoding names the bad field', async (t) => {
  const base = { treeSize: 1, treeRoot: new Uint8Array(32), time: 5, replica: 0, signature: new Uint8Array(10) } as Record<string, Value>
  const cases: [Record<string, Value>, RegExp][] = [
    [{ ...base, treeRoot: new Uint8Array(16) }, /^treeHead\.treeRoot: expected 32 bytes/],
    [{ ...base, treeSize: -5 }, /^treeHead\.treeSize/],
    [{ ...base, replica: 64 }, /^treeHead\.replica: 64 exceeds 63/],
    [{ ...base, signature: new Uint8Array(65537) }, /^treeHead\.signature: 65537 bytes exceeds/],
    [{ ...base, v: 2 }, /^treeHead\.v: unknown field/],
  ]
  for (const [v, message] of cases) t.throws(() => decodeTreeHead(encode(v)), { code: 'ZIXT_ERR_SCHEMA', message })
})
