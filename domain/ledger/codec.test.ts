import t from 'tap'
import { decode, encode } from './codec.ts'

t.test('round trip', async (t) => {
  const v = { b: [1, -2, 'x', new Uint8Array([1, 2])], a: null, c: true }
  t.same(decode(encode(v)), v)
})
