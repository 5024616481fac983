// CommandMemo: a hit needs identical bytes and an identical key; failures are never kept.
import t from 'tap'
import { CommandMemo } from './commandMemo.ts'
import { parseSignedCommand } from './command.ts'
import { ZixtError } from './errors.ts'
import { toBase64url } from './encoding.ts'
import { byIdentity, certificate, crypto, T0, user } from './testing/fixtures.ts'

const alice = user('alice')
const bob = user('bob')
const register = (u: ReturnType<typeof user>, id?: string): Uint8Array => byIdentity(u, 'RegisterUser', {
  username: u.name, identityPublicKey: toBase64url(u.identity.publicKey), encryptedEmail: u.encryptedEmail, device: certificate(u, u.device),
}, { time: T0, ...(id === undefined ? {} : { id }) })

t.test('parse: the same value as parseSignedCommand, frozen, once per byte string', async (t) => {
  const memo = new CommandMemo()
  const bytes = register(alice)
  const a = memo.parse(bytes)
  t.same(a, parseSignedCommand(bytes))
  t.ok(Object.isFrozen(a) && Object.isFrozen(a.command) && Object.isFrozen(a.command.payload), 'shared results are read-only')
  t.equal(memo.parse(bytes.slice()), a, 'equal bytes in another buffer: the remembered parse')
  t.same([memo.hits, memo.misses], [1, 1])
})

t.test('a byte flipped outside the lookup key (head and tail) is a different command', async (t) => {
  const memo = new CommandMemo()
  const bytes = register(alice)
  memo.parse(bytes)
  t.ok(memo.verify(bytes, alice.identity.publicKey, crypto), 'the genuine command verifies')
  const flipped = bytes.slice()
  flipped[Math.floor(bytes.length / 2)]! ^= 1 // same length, head and tail: the same lookup key
  const err = (() => { try { memo.parse(flipped); return null } catch (e) { return e } })()
  if (err === null) t.notOk(memo.verify(flipped, alice.identity.publicKey, crypto), 'a flipped command parses but does not verify')
  else t.type(err, ZixtError, 'a flipped command fails to parse, as without the memo')
  t.ok(memo.misses >= 2, 'the flipped bytes were not served from the memo')
  t.ok(memo.verify(bytes, alice.identity.publicKey, crypto), 'the genuine command still verifies')
})

t.test('a remembered signature counts only under the same key; failures are recomputed', async (t) => {
  const memo = new CommandMemo()
  const bytes = register(alice)
  t.notOk(memo.verify(bytes, bob.identity.publicKey, crypto), 'wrong key: fails')
  t.notOk(memo.verify(bytes, bob.identity.publicKey, crypto), 'and fails again (not remembered as anything)')
  t.ok(memo.verify(bytes, alice.identity.publicKey, crypto), 'right key: verifies')
  t.notOk(memo.verify(bytes, bob.identity.publicKey, crypto), 'a success under one key says nothing about another')
})

t.test('a parse failure throws the same error every time and is not kept', async (t) => {
  const memo = new CommandMemo()
  const garbage = new Uint8Array([0xa1, 0x61, 0x78, 0x01])
  const first = (() => { try { memo.parse(garbage) } catch (e) { return (e as ZixtError).code } })()
  const second = (() => { try { memo.parse(garbage) } catch (e) { return (e as ZixtError).code } })()
  t.ok(first !== undefined && first === second, `same code both times: ${first}`)
  t.equal(memo.size, 0)
  t.throws(() => memo.parse(new Uint8Array(0)), 'empty bytes: an error, not a crash in the key')
})

t.test('bounded by count and by bytes, oldest first', async (t) => {
  const commands = Array.from({ length: 6 }, (_, i) => register(alice, toBase64url(new Uint8Array(16).fill(i + 1))))
  const byCount = new CommandMemo({ countMax: 3, bytesMax: 1 << 30 })
  for (const c of commands) byCount.parse(c)
  t.equal(byCount.size, 3)
  byCount.parse(commands[5]!)
  t.equal(byCount.hits, 1, 'the newest is kept')
  byCount.parse(commands[0]!)
  t.equal(byCount.hits, 1, 'the oldest was dropped')
  const byBytes = new CommandMemo({ countMax: 100, bytesMax: commands[0]!.length * 2 })
  for (const c of commands) byBytes.parse(c)
  t.equal(byBytes.size, 2, 'two commands fit the byte budget')
})
