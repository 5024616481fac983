// Test fixtures for the domain: a one-replica genesis, a service key, users with real
// identity and device keys, and builders for events (given) and signed commands (when).
// Keys are made once per process and shared: SLH-DSA signing costs ~160 ms, so only
// identity-signed commands pay it, and only where a test needs one.
import type { SignerKind } from '../command.ts'
import { commandBytes, signCommand } from '../command.ts'
import type { CommandByType, CommandType } from '../commands.ts'
import { nativeCrypto } from '../crypto/native.ts'
import type { CryptoFacade, KeyPair } from '../crypto/types.ts'
import { toBase64url } from '../encoding.ts'
import type { EventByType, EventType } from '../events.ts'
import { createGenesis, type Genesis } from '../genesis.ts'
import { deviceIdFor, signDeviceCertificate, userIdFor } from '../identity.ts'
import type { EventDraft } from '../ledger/envelope.ts'
import { draft, threadStream, userStream } from '../rejections.ts'
import type { DeviceCertificate } from '../user/commands.ts'
import { emailHash } from '../user/decide.ts'

export const crypto: CryptoFacade = nativeCrypto

/** 2026-01-01T00:00:00Z: given events happen here, commands a second later unless told. */
export const T0 = Date.UTC(2026, 0, 1)
export const WHEN = T0 + 1000
export const DAY_MS = 86_400_000

export type TestDevice = { readonly deviceId: string; readonly keys: KeyPair }
export type TestUser = {
  readonly name: string
  readonly userId: string
  readonly identity: KeyPair
  readonly device: TestDevice
  readonly encryptedEmail: string // stands in for an AEAD ciphertext
  readonly emailHash: string
}

/** Deterministic bytes from a label (SHA3-256 stretched): fixture ids and "ciphertexts". */
export function bytesFrom(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let block = crypto.sha3_256(new TextEncoder().encode(label))
  for (let o = 0; o < length; o += 32) {
    out.set(block.subarray(0, Math.min(32, length - o)), o)
    block = crypto.sha3_256(block)
  }
  return out
}

export const b64From = (label: string, length: number): string => toBase64url(bytesFrom(label, length))

export function newDevice(label: string): TestDevice {
  const keys = crypto.mlDsa65.keygen(bytesFrom(`device-seed:${label}`, 32))
  return { deviceId: deviceIdFor(keys.publicKey, crypto), keys }
}

const users = new Map<string, TestUser>()

/** A user with a real identity key pair (random, made once per process) and a first device. */
export function user(name: string): TestUser {
  let u = users.get(name)
  if (u === undefined) {
    const identity = crypto.slhDsaShake256f.keygen()
    const encryptedEmail = b64From(`email:${name}`, 60)
    u = {
      name,
      userId: userIdFor(identity.publicKey, crypto),
      identity,
      device: newDevice(name),
      encryptedEmail,
      emailHash: emailHash(encryptedEmail, crypto),
    }
    users.set(name, u)
  }
  return u
}

export const SERVICE_KEY_ID = 'service:web'
let serviceKeys: KeyPair | undefined
export function serviceKey(): KeyPair {
  serviceKeys ??= crypto.mlDsa65.keygen(bytesFrom('service-seed', 32))
  return serviceKeys
}

export type TestReplica = { readonly identity: KeyPair; readonly operational: KeyPair }
let genesisCache: { genesis: Genesis; replicas: TestReplica[] } | undefined

/** f = 0: one replica keeps the fixture cheap (one SLH-DSA certificate). */
export function testGenesis(): { genesis: Genesis; replicas: readonly TestReplica[] } {
  if (genesisCache === undefined) {
    const replicas = [{ identity: crypto.slhDsaShake256f.keygen(), operational: crypto.mlDsa65.keygen(bytesFrom('replica-op:0', 32)) }]
    const genesis = createGenesis({
      chainId: 'zixt-test',
      createdAt: T0 - DAY_MS,
      f: 0,
      replicas: replicas.map((r) => ({ identityPublicKey: r.identity.publicKey, identitySecretKey: r.identity.secretKey, operationalPublicKey: r.operational.publicKey })),
      servicePublicKeys: [{ keyId: SERVICE_KEY_ID, publicKey: serviceKey().publicKey }],
    }, crypto)
    genesisCache = { genesis, replicas }
  }
  return genesisCache
}

// ---------------------------------------------------------------------------------------
// Signed commands

let idCounter = 0
/** Command ids: deterministic per process run order, unique. */
export function nextCommandId(): string {
  return b64From(`command-id:${idCounter++}`, 16)
}

export type CommandOptions = { readonly time?: number; readonly id?: string; readonly device?: TestDevice }

/** Device-signed (ML-DSA-65, ~1 ms). */
export function byDevice<T extends CommandType>(u: TestUser, type: T, payload: CommandByType<T>['payload'], o: CommandOptions = {}): Uint8Array {
  const device = o.device ?? u.device
  return sign({ type, author: u.userId, signer: 'device', keyId: device.deviceId, payload }, device.keys.secretKey, o)
}

/** Identity-signed (SLH-DSA, ~160 ms): use sparingly. */
export function byIdentity<T extends CommandType>(
  u: TestUser,
  type: T,
  payload: CommandByType<T>['payload'],
  o: CommandOptions & { readonly identity?: KeyPair; readonly author?: string } = {},
): Uint8Array {
  const author = o.author ?? u.userId
  return sign({ type, author, signer: 'identity', keyId: author, payload }, (o.identity ?? u.identity).secretKey, o)
}

export function byService<T extends CommandType>(type: T, payload: CommandByType<T>['payload'], o: CommandOptions = {}): Uint8Array {
  return sign({ type, author: SERVICE_KEY_ID, signer: 'service', keyId: SERVICE_KEY_ID, payload }, serviceKey().secretKey, o)
}

/** Signed by a genesis replica's identity key (SLH-DSA): author = keyId = 'replica:<index>'. */
export function byReplica<T extends CommandType>(index: number, type: T, payload: CommandByType<T>['payload'], o: CommandOptions & { readonly identity?: KeyPair } = {}): Uint8Array {
  const author = `replica:${index}`
  const identity = o.identity ?? testGenesis().replicas[index]!.identity
  return sign({ type, author, signer: 'identity', keyId: author, payload }, identity.secretKey, o)
}

function sign(
  c: { type: CommandType; author: string; signer: SignerKind; keyId: string; payload: unknown },
  secretKey: Uint8Array,
  o: CommandOptions,
): Uint8Array {
  const command = { id: o.id ?? nextCommandId(), type: c.type, author: c.author, signer: c.signer, keyId: c.keyId, time: o.time ?? WHEN, payload: c.payload }
  return commandBytes(signCommand(command as never, secretKey, c.signer, crypto))
}

/** A real device certificate by `u`'s identity key (SLH-DSA sign: ~160 ms). */
export function certificate(
  u: TestUser,
  device: TestDevice,
  o: { readonly issuedAt?: number; readonly deviceId?: string; readonly identity?: KeyPair } = {},
): DeviceCertificate {
  return signDeviceCertificate({
    userId: u.userId,
    deviceId: o.deviceId ?? device.deviceId,
    devicePublicKey: device.keys.publicKey,
    issuedAt: o.issuedAt ?? T0,
    identitySecretKey: (o.identity ?? u.identity).secretKey,
  }, crypto)
}

// ---------------------------------------------------------------------------------------
// Given events (never signature-checked by evolve, so certificates here are placeholders)

export const FAKE_CERTIFICATE = b64From('fake-certificate', 49856)

export function ev<T extends EventType>(stream: string, type: T, payload: EventByType<T>['payload']): EventDraft {
  return draft(stream, type, payload)
}

export function deviceAdded(u: TestUser, device: TestDevice = u.device): EventDraft {
  return ev(userStream(u.userId), 'DeviceAdded', {
    userId: u.userId, deviceId: device.deviceId, publicKey: toBase64url(device.keys.publicKey), issuedAt: T0, certificate: FAKE_CERTIFICATE,
  })
}

export function registered(u: TestUser): EventDraft[] {
  return [
    ev(userStream(u.userId), 'UserRegistered', {
      userId: u.userId, username: u.name, identityPublicKey: toBase64url(u.identity.publicKey), encryptedEmail: u.encryptedEmail,
    }),
    deviceAdded(u),
  ]
}

export function verified(u: TestUser): EventDraft {
  return ev(userStream(u.userId), 'EmailVerified', { userId: u.userId, encryptedEmailHash: u.emailHash })
}

/** Registered with a device, e-mail verified. */
export function active(...us: TestUser[]): EventDraft[] {
  return us.flatMap((u) => [...registered(u), verified(u)])
}

export function madeAdmin(u: TestUser, by = SERVICE_KEY_ID): EventDraft {
  return ev(userStream(u.userId), 'AdminGranted', { userId: u.userId, by })
}

export const threadId = (label: string): string => b64From(`thread:${label}`, 16)
export const groupId = (label: string): string => b64From(`group:${label}`, 32)
export const cipher = (label: string, bytes = 48): string => b64From(`cipher:${label}`, bytes)

export function threadCreated(label: string, creator: TestUser, members: readonly TestUser[]): EventDraft {
  const id = threadId(label)
  return ev(threadStream(id), 'ThreadCreated', {
    threadId: id, groupId: groupId(label), encryptedName: cipher(`name:${label}`), creator: creator.userId,
    members: [creator.userId, ...members.map((m) => m.userId)],
  })
}
