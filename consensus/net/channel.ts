// Authenticated, encrypted channels between replicas (and from clients to replicas).
//
// TLS 1.3 only, key exchange X25519MLKEM768 (hybrid post-quantum; OpenSSL 3.5 in Node 24)
// with X25519 as the fallback group. The TLS certificate is a throwaway self-signed one:
// authentication happens right after the handshake, by channel binding (RFC 9266 style):
// each side signs the TLS exporter value (RFC 8446 §7.5) together with its role and name with
// its ML-DSA-65 key, and the other side checks that signature against the keys in genesis
// (replica operational keys, or service keys for clients). A man in the middle holds a
// different TLS session, hence a different exporter value, and cannot produce the signature.
// Nothing but the hello travels before authentication, and nothing at all in clear.
import tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { decode, encode, type Value } from '../../domain/ledger/codec.ts'
import type { CryptoFacade } from '../../domain/crypto/types.ts'
import { FrameReader, FrameTag, frame, frameHeader } from './frame.ts'
import { selfSignedCert } from './selfSignedCert.ts'

export type PeerIdentity = { readonly role: 'replica'; readonly index: number } | { readonly role: 'client'; readonly keyId: string }

export type ChannelKeys = {
  readonly self: PeerIdentity
  readonly secretKey: Uint8Array // ML-DSA-65 seed of `self`, read at each hello (a getter follows key rotation)
  /** ML-DSA-65 public key(s) a peer may prove itself with (several around a key rotation), or null when unknown. */
  publicKeyOf(peer: PeerIdentity): Uint8Array | readonly Uint8Array[] | null
  readonly crypto: CryptoFacade
}

export type Channel = {
  readonly peer: PeerIdentity
  readonly group: string // the negotiated TLS key-exchange group
  send(tag: FrameTag, payload: Uint8Array): void
  /** Bytes written and not yet handed to the kernel (a slow or stalled peer's backlog). */
  readonly buffered: number
  close(): void
  onFrame(handler: (tag: number, payload: Uint8Array) => void): void
  onClose(handler: () => void): void
}

const EXPORTER_LABEL = 'EXPORTER-zixt-channel-binding-v1'
const BINDING_CONTEXT = new TextEncoder().encode('zixt/channel/v1')
const helloTimeoutMs = 5_000
const groups = 'X25519MLKEM768:X25519'
const writableBytesMax = 256 * 1024 * 1024 // a peer that stops reading is disconnected

let cert: ReturnType<typeof selfSignedCert> | null = null
function tlsCert(crypto: CryptoFacade): ReturnType<typeof selfSignedCert> {
  cert ??= selfSignedCert('zixt', crypto.randomBytes(16))
  return cert
}

function bindingMessage(ekm: Uint8Array, who: PeerIdentity, side: 'dialer' | 'listener'): Uint8Array {
  const name = who.role === 'replica' ? who.index : who.keyId
  return encode(['zixt/channel-binding/v1', ekm, who.role, name, side])
}

function identityToValue(p: PeerIdentity): Value {
  return p.role === 'replica' ? { role: p.role, index: p.index } : { role: p.role, keyId: p.keyId }
}

function identityFromValue(v: Value): PeerIdentity | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return null
  const o = v as { [k: string]: Value }
  if (o.role === 'replica' && typeof o.index === 'number' && Number.isSafeInteger(o.index) && o.index >= 0) return { role: 'replica', index: o.index }
  if (o.role === 'client' && typeof o.keyId === 'string' && o.keyId.length <= 128) return { role: 'client', keyId: o.keyId }
  return null
}

function sameIdentity(a: PeerIdentity, b: PeerIdentity): boolean {
  return a.role === 'replica' ? b.role === 'replica' && a.index === b.index : b.role === 'client' && a.keyId === b.keyId
}

function hello(socket: tls.TLSSocket, keys: ChannelKeys, side: 'dialer' | 'listener'): Buffer {
  const ekm = new Uint8Array(socket.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0)))
  const sig = keys.crypto.mlDsa65.sign(keys.secretKey, bindingMessage(ekm, keys.self, side), BINDING_CONTEXT)
  return frame(FrameTag.hello, encode({ who: identityToValue(keys.self), sig }))
}

/** Checks a hello frame; returns the authenticated peer or a reason. */
function checkHello(socket: tls.TLSSocket, keys: ChannelKeys, payload: Uint8Array, side: 'dialer' | 'listener'): PeerIdentity | string {
  let v: { who?: Value; sig?: Value }
  try {
    v = decode(payload) as { who?: Value; sig?: Value }
  } catch {
    return 'hello is not canonical CBOR'
  }
  const who = v.who === undefined ? null : identityFromValue(v.who)
  if (who === null || !(v.sig instanceof Uint8Array)) return 'hello malformed'
  const found = keys.publicKeyOf(who)
  if (found === null || (Array.isArray(found) && found.length === 0)) return `unknown ${who.role} ${who.role === 'replica' ? who.index : who.keyId}`
  const ekm = new Uint8Array(socket.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0)))
  const sig = v.sig
  const candidates: readonly Uint8Array[] = Array.isArray(found) ? found : [found as Uint8Array]
  if (!candidates.some((pk) => keys.crypto.mlDsa65.verify(pk, bindingMessage(ekm, who, side), sig, BINDING_CONTEXT))) return 'channel binding signature does not verify'
  return who
}

function makeChannel(socket: tls.TLSSocket, reader: FrameReader, peer: PeerIdentity, pending: { tag: number; payload: Uint8Array }[]): Channel {
  const frameHandlers: ((tag: number, payload: Uint8Array) => void)[] = []
  const closeHandlers: (() => void)[] = []
  const backlog = [...pending]
  socket.on('data', (d: Buffer) => {
    const frames = reader.push(d)
    if (frames === null) return socket.destroy()
    for (const f of frames) for (const h of frameHandlers) h(f.tag, f.payload)
  })
  socket.on('close', () => { for (const h of closeHandlers) h() })
  socket.on('error', () => {})
  const info = socket.getEphemeralKeyInfo() as { name?: string } | null
  // Frames sent in one turn of the event loop (a step's messages, a client's burst of
  // requests, a block's replies) leave together: one TLS write and one syscall for all of
  // them instead of one each. The socket is uncorked before the loop polls for I/O, so a
  // lone frame is not delayed.
  let corked = false
  const uncork = (): void => { corked = false; socket.uncork() }
  return {
    peer,
    group: info?.name ?? 'unknown',
    send(tag, payload) {
      if (socket.destroyed) return
      if (socket.writableLength > writableBytesMax) return void socket.destroy()
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(uncork)
      }
      // Header and payload as two writes, not one copied frame: the corked writes leave
      // together anyway, and a pre-prepare of megabytes, broadcast to three peers, was
      // copied three times (10.6 % of the primary's busy time at saturation).
      socket.write(frameHeader(tag, payload.length))
      socket.write(payload)
    },
    get buffered() { return socket.writableLength },
    close: () => socket.destroy(),
    onFrame(h) {
      frameHandlers.push(h)
      for (const f of backlog.splice(0)) h(f.tag, f.payload)
    },
    onClose: (h) => void closeHandlers.push(h),
  }
}

/** Reads the first frame (the hello) within the timeout. */
function firstFrame(socket: tls.TLSSocket, reader: FrameReader): Promise<{ first: { tag: number; payload: Uint8Array }; rest: { tag: number; payload: Uint8Array }[] }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error('no hello in time')) }, helloTimeoutMs)
    const onData = (d: Buffer): void => {
      const frames = reader.push(d)
      if (frames === null) { cleanup(); return reject(new Error('oversized frame before hello')) }
      if (frames.length === 0) return
      cleanup()
      resolve({ first: frames[0]!, rest: frames.slice(1) })
    }
    const onEnd = (): void => { cleanup(); reject(new Error('closed before hello')) }
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onEnd)
    }
    socket.on('data', onData)
    socket.on('close', onEnd)
  })
}

export type Listener = { readonly port: number; close(): Promise<void> }

export type ListenOptions = {
  readonly host: string
  readonly port: number
  readonly keys: ChannelKeys
  readonly frameBytesMax: number
  onChannel(channel: Channel): void
  onRejected(reason: string, remote: string): void
}

export function listen(o: ListenOptions): Promise<Listener> {
  const { certPem, keyPem } = tlsCert(o.keys.crypto)
  const sockets = new Set<tls.TLSSocket>()
  const server = tls.createServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.3', ecdhCurve: groups }, (socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const remote = `${socket.remoteAddress}:${socket.remotePort}`
    const reader = new FrameReader(o.frameBytesMax)
    firstFrame(socket, reader).then(({ first, rest }) => {
      const who = first.tag === FrameTag.hello ? checkHello(socket, o.keys, first.payload, 'dialer') : 'first frame is not a hello'
      if (typeof who === 'string') {
        o.onRejected(who, remote)
        return socket.destroy()
      }
      socket.write(hello(socket, o.keys, 'listener'))
      o.onChannel(makeChannel(socket, reader, who, rest))
    }, (e: Error) => {
      o.onRejected(e.message, remote)
      socket.destroy()
    })
  })
  server.on('tlsClientError', (e) => o.onRejected(`TLS: ${e.message}`, 'unknown'))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy()
          server.close(() => r())
        }),
      })
    })
  })
}

export type DialOptions = {
  readonly host: string
  readonly port: number
  readonly keys: ChannelKeys
  readonly expect: PeerIdentity // the replica we mean to reach
  readonly frameBytesMax: number
  readonly handshakeTimeoutMs?: number // default 5 s
}

export function dial(o: DialOptions): Promise<Channel> {
  const { certPem, keyPem } = tlsCert(o.keys.crypto)
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: o.host, port: o.port, cert: certPem, key: keyPem, minVersion: 'TLSv1.3', ecdhCurve: groups,
      rejectUnauthorized: false, // authenticated below by the channel binding, against genesis
    })
    socket.setNoDelay(true)
    const fail = (e: Error): void => { clearTimeout(handshake); socket.destroy(); reject(e) }
    // A handshake that never completes (a peer that accepted and then hung) must not hold
    // the dial, and with it every later redial of this peer, forever.
    const handshake = setTimeout(() => fail(new Error(`${o.host}:${o.port}: no TLS handshake in time`)), o.handshakeTimeoutMs ?? helloTimeoutMs)
    socket.once('error', fail)
    socket.once('secureConnect', () => {
      clearTimeout(handshake)
      socket.write(hello(socket, o.keys, 'dialer'))
      const reader = new FrameReader(o.frameBytesMax)
      firstFrame(socket, reader).then(({ first, rest }) => {
        socket.off('error', fail)
        const who = first.tag === FrameTag.hello ? checkHello(socket, o.keys, first.payload, 'listener') : 'first frame is not a hello'
        if (typeof who === 'string') return fail(new Error(`${o.host}:${o.port}: ${who}`))
        if (!sameIdentity(who, o.expect)) return fail(new Error(`${o.host}:${o.port}: answered as another peer`))
        resolve(makeChannel(socket, reader, who, rest))
      }, fail)
    })
  })
}
