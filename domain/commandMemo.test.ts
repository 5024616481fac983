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
  t.same([memo.hits, memo.misses, memo.size], [1, 1, 1])
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

t.test('bounded by count and by bytes: a full memo keeps nothing new, forget makes room, stale entries go', async (t) => {
  const commands = Array.from({ length: 6 }, (_, i) => register(alice, toBase64url(new Uint8Array(16).fill(i + 1))))
  let now = 0
  const memo = new CommandMemo({ countMax: 3, bytesMax: 1 << 30, staleMs: 1000 }, () => now)
  for (const c of commands.slice(0, 3)) memo.parse(c)
  t.equal(memo.size, 3)
  t.notOk(memo.hasRoom(), 'full')
  const transient = memo.parse(commands[3]!)
  t.equal(memo.size, 3, 'a command that finds it full is not kept…')
  t.ok(memo.verify(commands[3]!, alice.identity.publicKey, crypto), '…but its parse serves the verification that follows')
  t.equal(memo.parse(commands[3]!), transient, '(the same parse, not a second one)')
  memo.parse(commands[0]!)
  t.equal(memo.hits, 3, 'the oldest, next to be executed, was kept (3 hits so far: verify, parse again, oldest)')
  memo.forget(commands[0]!)
  t.equal(memo.size, 2, 'an executed command is forgotten')
  t.ok(memo.hasRoom(), 'which leaves room')
  memo.forget(commands[0]!)
  t.equal(memo.size, 2, 'forgetting twice, or something never kept, is harmless')
  memo.parse(commands[4]!)
  t.equal(memo.size, 3, 'the room went to the next command')

  now = 1500 // the three kept ones are older than staleMs now
  t.ok(memo.hasRoom(), 'stale entries are dropped when room is needed')
  t.equal(memo.size, 0)

  const byBytes = new CommandMemo({ countMax: 100, bytesMax: commands[0]!.length * 2, staleMs: 1000 })
  for (const c of commands) byBytes.parse(c)
  t.equal(byBytes.size, 2, 'two commands fit the byte budget')
  t.notOk(byBytes.hasRoom())
})

t.test('executed: the commands forgotten after execution, the last countMax of them', async (t) => {
  const commands = Array.from({ length: 5 }, (_, i) => register(alice, toBase64url(new Uint8Array(16).fill(i + 1))))
  const memo = new CommandMemo({ countMax: 3, bytesMax: 1 << 30, staleMs: 1000 })
  memo.parse(commands[0]!)
  t.notOk(memo.executed(commands[0]!), 'parsed (warmed) is not executed')
  for (const c of commands.slice(0, 4)) memo.forget(c)
  t.same(commands.map((c) => memo.executed(c)), [false, true, true, true, false], 'the oldest of four dropped out; one never executed is not')
  t.ok(memo.executed(commands[1]!.slice()), 'the same bytes in another buffer')
  memo.forget(commands[1]!) // executed again (a re-execution): now the newest
  memo.forget(commands[4]!)
  t.same(commands.map((c) => memo.executed(c)), [false, true, false, true, true], 're-executed counts as the newest')
})
