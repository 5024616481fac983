// TLS channels on 127.0.0.1: hybrid post-quantum key exchange, mutual authentication by
// genesis keys through channel binding, framing limits.
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { nativeCrypto } from '../../domain/crypto/native.ts'
import { dial, listen, type Channel, type ChannelKeys, type PeerIdentity } from './channel.ts'
import { FrameReader, FrameTag, frame } from './frame.ts'

const crypto = nativeCrypto
const replicaKeys = [0, 1, 2].map(() => crypto.mlDsa65.keygen())
const clientKey = crypto.mlDsa65.keygen()
const stranger = crypto.mlDsa65.keygen()

function keysFor(self: PeerIdentity, secretKey: Uint8Array): ChannelKeys {
  return {
    self, secretKey, crypto,
    publicKeyOf: (p) => (p.role === 'replica' ? replicaKeys[p.index]?.publicKey ?? null : p.keyId === 'service:ingest' ? clientKey.publicKey : null),
  }
}

t.test('frames: split across chunks, several per chunk, oversized refused', async (t) => {
  const r = new FrameReader(100)
  const a = frame(FrameTag.pbft, Uint8Array.of(1, 2, 3))
  const b = frame(FrameTag.reply, new Uint8Array(50).fill(7))
  const all = Buffer.concat([a, b])
  t.same(r.push(all.subarray(0, 3)), [])
  const got = r.push(all.subarray(3))!
  t.same(got.map((f) => [f.tag, f.payload.length]), [[FrameTag.pbft, 3], [FrameTag.reply, 50]])
  t.equal(new FrameReader(10).push(frame(FrameTag.pbft, new Uint8Array(20))), null, 'a frame over the limit ends the connection')
})

t.test('replicas and clients authenticate by genesis keys; strangers and impostors are refused', async (t) => {
  const rejected: string[] = []
  const accepted: Channel[] = []
  const server = await listen({
    host: '127.0.0.1', port: 0, keys: keysFor({ role: 'replica', index: 0 }, replicaKeys[0]!.secretKey), frameBytesMax: 1 << 20,
    onChannel: (ch) => { accepted.push(ch); ch.onFrame((tag, p) => ch.send(FrameTag.reply, p)) },
    onRejected: (why) => rejected.push(why),
  })
  t.teardown(() => server.close())
  const base = { host: '127.0.0.1', port: server.port, frameBytesMax: 1 << 20, expect: { role: 'replica' as const, index: 0 } }

  const replica = await dial({ ...base, keys: keysFor({ role: 'replica', index: 1 }, replicaKeys[1]!.secretKey) })
  t.equal(replica.group, 'X25519MLKEM768', 'hybrid post-quantum key exchange negotiated')
  const echoed = new Promise<Uint8Array>((res) => replica.onFrame((_tag, p) => res(p)))
  replica.send(FrameTag.pbft, Uint8Array.of(9, 8, 7))
  t.same([...(await echoed)], [9, 8, 7], 'frames travel both ways after authentication')
  replica.close()

  const client = await dial({ ...base, keys: keysFor({ role: 'client', keyId: 'service:ingest' }, clientKey.secretKey) })
  t.same(client.peer, { role: 'replica', index: 0 })
  client.close()

  await t.rejects(dial({ ...base, keys: keysFor({ role: 'client', keyId: 'service:other' }, stranger.secretKey) }), 'unknown client key refused')
  await t.rejects(dial({ ...base, keys: keysFor({ role: 'replica', index: 2 }, stranger.secretKey) }), 'replica 2 without replica 2\'s key refused')
  await t.rejects(dial({ ...base, expect: { role: 'replica', index: 1 }, keys: keysFor({ role: 'replica', index: 2 }, replicaKeys[2]!.secretKey) }), 'a listener that is not the replica we meant is refused')
  await new Promise((r) => setTimeout(r, 100))
  t.ok(rejected.some((w) => w.includes('unknown client')), 'unknown client logged')
  t.ok(rejected.some((w) => w.includes('does not verify')), 'bad channel binding logged')
  t.equal(accepted.length, 3, 'only the authenticated peers got a channel (two good dials, one whose answer the dialer refused)')
})

t.test('a peer that accepts and never completes the handshake does not hold the dial', async (t) => {
  const held: Socket[] = []
  const mute = createServer((sock) => void held.push(sock)) // accepts, says nothing
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r))
  t.teardown(() => { for (const s of held) s.destroy(); mute.close() })
  const port = (mute.address() as { port: number }).port
  const started = Date.now()
  await t.rejects(dial({ host: '127.0.0.1', port, keys: keysFor({ role: 'replica', index: 1 }, replicaKeys[1]!.secretKey), frameBytesMax: 1 << 20, expect: { role: 'replica', index: 0 }, handshakeTimeoutMs: 300 }),
    /no TLS handshake in time/, 'the dial fails with the reason')
  t.ok(Date.now() - started < 3000, `it fails after its timeout, not never (${Date.now() - started} ms)`)
})
