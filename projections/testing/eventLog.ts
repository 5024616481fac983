// Synthetic committed events for projection tests and benchmarks: the shapes of
// docs/domain.md with made-up ids, no signatures (projections trust the ledger).
import type { EventEnvelope } from '../../domain/ledger/envelope.ts'
import type { Value } from '../../domain/ledger/codec.ts'

const ZERO = new Uint8Array(32)

/** A deterministic base64url id of `chars` characters. */
export function fakeId(seed: string, chars: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let h = 2166136261
  let out = ''
  for (let i = 0; out.length < chars; i++) {
    h = Math.imul(h ^ (seed.charCodeAt(i % Math.max(seed.length, 1)) + i), 16777619) >>> 0
    out += alphabet[h & 63]
  }
  return out
}

export const userId = (name: string): string => fakeId('user/' + name, 43)
export const deviceId = (name: string): string => fakeId('device/' + name, 43)
export const threadId = (name: string): string => fakeId('thread/' + name, 22)

export class EventLog {
  readonly events: EventEnvelope[] = []
  private readonly versions = new Map<string, number>()
  time = 1_760_000_000_000
  height = 0

  add(stream: string, type: string, payload: { [k: string]: Value }, author = 'test'): EventEnvelope {
    const v = this.versions.get(stream) ?? 0
    this.versions.set(stream, v + 1)
    const e: EventEnvelope = {
      position: this.events.length, stream, streamVersion: v, prevHash: ZERO, type, payload,
      commandId: fakeId('cmd/' + this.events.length, 22), author, blockHeight: this.height, time: this.time,
    }
    this.events.push(e)
    return e
  }

  /** Later events go to the next block, a second later. */
  nextBlock(): void {
    this.height++
    this.time += 1000
  }

  register(name: string, device = name + '/1'): void {
    const u = userId(name)
    this.add(`user:${u}`, 'UserRegistered', { userId: u, username: name, identityPublicKey: fakeId('ik/' + name, 86), encryptedEmail: fakeId('mail/' + name, 80) }, u)
    this.add(`user:${u}`, 'DeviceAdded', { userId: u, deviceId: deviceId(device), publicKey: fakeId('pk/' + device, 2603), issuedAt: this.time, certificate: fakeId('cert/' + device, 200) }, u)
  }

  user(name: string, type: string, extra: { [k: string]: Value } = {}): EventEnvelope {
    const u = userId(name)
    return this.add(`user:${u}`, type, { userId: u, ...extra }, u)
  }

  createThread(name: string, creator: string, members: string[]): void {
    const t = threadId(name)
    this.add(`thread:${t}`, 'ThreadCreated', {
      threadId: t, groupId: fakeId('group/' + name, 43), encryptedName: fakeId('name/' + name, 60), creator: userId(creator),
      members: [creator, ...members].map(userId),
    }, userId(creator))
  }

  thread(name: string, type: string, by: string, extra: { [k: string]: Value } = {}): EventEnvelope {
    const t = threadId(name)
    return this.add(`thread:${t}`, type, { threadId: t, ...extra }, userId(by))
  }

  post(thread: string, author: string, text = 'hello', attachments: { blobId: string; ciphertextBytes: number; type: string }[] = []): number {
    const position = this.events.length
    this.thread(thread, 'MessagePosted', author, {
      messageId: position, userId: userId(author), deviceId: deviceId(author + '/1'), epoch: 0,
      ciphertext: Buffer.from(text).toString('base64url'), attachments,
    })
    return position
  }

  read(user: string, thread: string, position: number): void {
    this.user(user, 'ReadMarked', { threadId: threadId(thread), position })
  }
}

/**
 * A busy chat: `users` users in `threads` threads of up to 4 members, mostly messages,
 * with reads, edits, deletes, reactions, joins and leaves mixed in. Deterministic.
 */
export function chatWorkload(events: number, o: { users?: number; threads?: number; ciphertextBytes?: number; seed?: number } = {}): EventEnvelope[] {
  const log = new EventLog()
  const users = o.users ?? 20
  const threads = o.threads ?? 10
  let s = o.seed ?? 1
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return (s >>> 8) % n
  }
  const name = (i: number): string => `u${i}`
  for (let i = 0; i < users; i++) log.register(name(i))
  const members: string[][] = []
  for (let t = 0; t < threads; t++) {
    const m = [name(t % users), name((t + 1) % users), name((t + 3) % users)]
    members.push(m)
    log.createThread(`t${t}`, m[0]!, m.slice(1))
  }
  const text = 'x'.repeat(o.ciphertextBytes ?? 120)
  const posted: number[][] = members.map(() => [])
  while (log.events.length < events) {
    if (log.events.length % 50 === 0) log.nextBlock()
    const t = rnd(threads)
    const m = members[t]!
    const who = m[rnd(m.length)]!
    const r = rnd(100)
    const ids = posted[t]!
    if (r < 80 || ids.length === 0) {
      ids.push(log.post(`t${t}`, who, text, r === 0 ? [{ blobId: 'ab'.repeat(32), ciphertextBytes: 1000, type: 'PNG' }] : []))
    } else if (r < 90) {
      log.read(who, `t${t}`, log.events.length - 1)
    } else if (r < 93) {
      log.thread(`t${t}`, 'MessageReacted', who, { messageId: ids[rnd(ids.length)]!, userId: userId(who), deviceId: deviceId(who + '/1'), epoch: 0, reaction: 'cmVhY3Q' })
    } else if (r < 95) {
      const id = ids.splice(rnd(ids.length), 1)[0]!
      const author = log.events[id]!.payload['userId'] as string
      log.thread(`t${t}`, 'MessageDeleted', who, { messageId: id, userId: author })
    } else if (r < 97) {
      const id = ids[ids.length - 1]!
      const author = log.events[id]!.payload['userId'] as string
      log.thread(`t${t}`, 'MessageEdited', who, { messageId: id, userId: author, deviceId: deviceId(who + '/1'), epoch: 0, ciphertext: 'ZWRpdGVk' })
    } else if (r < 99 && m.length < 5) {
      const joiner = name(rnd(users))
      if (!m.includes(joiner)) {
        m.push(joiner)
        log.thread(`t${t}`, 'MemberAdded', m[0]!, { userId: userId(joiner), by: userId(m[0]!) })
      }
    } else if (m.length > 2) {
      const leaver = m.splice(m.length - 1, 1)[0]!
      log.thread(`t${t}`, 'MemberLeft', leaver, { userId: userId(leaver) })
    }
  }
  return log.events.slice(0, events)
}
