import t from 'tap'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { rememberingVerify } from './verifyMemo.ts'

t.test('a remembered verification changes no answer', async (t) => {
  const raw = nativeCrypto.mlDsa65
  const memo = rememberingVerify(nativeCrypto).mlDsa65
  const kp = raw.keygen()
  const other = raw.keygen()
  const msg = new Uint8Array([1, 2, 3])
  const ctx = new Uint8Array([9])
  const sig = raw.sign(kp.secretKey, msg, ctx)
  t.ok(memo.verify(kp.publicKey, msg, sig, ctx), 'valid')
  t.ok(memo.verify(kp.publicKey, msg, sig, ctx), 'valid again (remembered)')
  t.notOk(memo.verify(kp.publicKey, new Uint8Array([1, 2, 4]), sig, ctx), 'same signature, other message')
  t.notOk(memo.verify(other.publicKey, msg, sig, ctx), 'same signature, other key')
  t.notOk(memo.verify(kp.publicKey, msg, sig), 'same signature, other context')
  const tail = sig.slice()
  tail[tail.length - 1] = tail[tail.length - 1]! ^ 1 // same c̃ prefix, different signature
  t.notOk(memo.verify(kp.publicKey, msg, tail, ctx), 'same c̃, damaged tail')
  t.ok(memo.verify(kp.publicKey, msg, sig, ctx), 'the good one still verifies')
})
