// Operational key rotation, run by each replica for itself (only it holds its SLH-DSA
// identity key). Due when the key is older than limits.replicaKeyRotationMs (block time of
// the block that installed it, genesis.createdAt for the first) or when the operator asked
// (`zixt rotate-keys --replica i` writes the replica's request file). Then:
//   1. a fresh ML-DSA-65 key, written to keys.json as `nextOperationalSecretKey` first;
//   2. RotateReplicaKey (certificate and command signed by the identity key) submitted to
//      every replica over the replica's own channels, re-sent until it is committed;
//   3. once the block carrying ReplicaKeyRotated commits, the replica signs with the new
//      key and keys.json keeps only it. Blocks after that one are certified with it.
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { commandBytes, createCommand, signCommand } from '../domain/command.ts'
import { toBase64url } from '../domain/encoding.ts'
import type { Block } from '../domain/ledger/envelope.ts'
import { equalBytes } from '../domain/ledger/codec.ts'
import { limits } from '../domain/limits.ts'
import { signReplicaKeyCertificate } from '../domain/node/certificate.ts'
import { rotatedKeys, type OwnOperationalKeys, type ReplicaKeyBook } from './keys.ts'
import { replaceFileDurably } from './store/durableFile.ts'

export type KeysFile = { identitySecretKey: string; operationalSecretKey: string; nextOperationalSecretKey?: string }

export function writeKeysFile(file: string, keys: KeysFile): void {
  replaceFileDurably(file, JSON.stringify(keys, null, 2) + '\n')
}

export type KeyRotationOptions = {
  readonly index: number
  readonly chainId: string
  readonly book: ReplicaKeyBook
  readonly own: OwnOperationalKeys
  readonly identitySecretKey: Uint8Array
  readonly keysFile: string
  /** Its existence asks for a rotation now (removed once the command is prepared). */
  readonly requestFile: string
  /** Where the replica publishes its current certified key for clients on this machine (knownReplicaKeys). */
  readonly publishFile?: string
  readonly crypto: CryptoFacade
  readonly submit: (command: Uint8Array) => void
  readonly log: (line: string) => void
  readonly checkMs?: number
  /** A next key prepared before a restart (keys.json): reused, not replaced. */
  readonly next?: Uint8Array | null
}

export type KeyRotation = { onCommitted(block: Block): void; close(): void }

export function startKeyRotation(o: KeyRotationOptions): KeyRotation {
  const dsa = o.crypto.mlDsa65
  let next: { secretKey: Uint8Array; publicKey: Uint8Array } | null = o.next != null ? { secretKey: o.next, publicKey: dsa.keygen(o.next).publicKey } : null
  let pending: { bytes: Uint8Array; sentAt: number; preparedAt: number } | null = null
  let forced = false

  function persist(): void {
    writeKeysFile(o.keysFile, {
      identitySecretKey: toBase64url(o.identitySecretKey),
      operationalSecretKey: toBase64url(o.own.secretKey),
      ...(next !== null ? { nextOperationalSecretKey: toBase64url(next.secretKey) } : {}),
    })
  }

  function prepare(): void {
    if (next === null) {
      const kp = dsa.keygen()
      next = { secretKey: kp.secretKey, publicKey: kp.publicKey }
      o.own.add(kp.secretKey)
      persist() // durable before anyone can commit the public key
    }
    const now = Date.now()
    const certificate = signReplicaKeyCertificate({ chainId: o.chainId, replica: o.index, operationalPublicKey: next.publicKey, issuedAt: now }, o.identitySecretKey, o.crypto)
    const author = `replica:${o.index}`
    const command = createCommand({
      type: 'RotateReplicaKey', author, signer: 'identity', keyId: author,
      payload: { replica: o.index, operationalPublicKey: toBase64url(next.publicKey), issuedAt: now, certificate: toBase64url(certificate) },
    }, now, o.crypto)
    pending = { bytes: commandBytes(signCommand(command, o.identitySecretKey, 'identity', o.crypto)), sentAt: Date.now(), preparedAt: Date.now() }
    o.log(`operational key rotation: submitting key ${o.index}/${toBase64url(next.publicKey.subarray(0, 6))}`)
    o.submit(pending.bytes)
  }

  function check(): void {
    try {
      if (existsSync(o.requestFile)) {
        rmSync(o.requestFile, { force: true })
        forced = true
      }
      const now = Date.now()
      if (pending !== null) {
        if (now - pending.preparedAt > 60_000) pending = null // rejected or lost (command time too old): a fresh command, same key
        else if (now - pending.sentAt > 3_000) { pending.sentAt = now; o.submit(pending.bytes) }
        if (pending !== null) return
      }
      const due = forced || next !== null || now - o.book.current(o.index).time >= limits.replicaKeyRotationMs
      if (due) { forced = false; prepare() }
    } catch (e) {
      o.log(`operational key rotation: ${(e as Error).message}`)
    }
  }

  const timer = setInterval(check, o.checkMs ?? 1000)
  timer.unref()
  return {
    onCommitted(block) {
      for (const r of rotatedKeys(block.events)) {
        if (r.replica !== o.index) continue
        if (!o.own.switchTo(r.publicKey)) { o.log(`operational key rotation: block ${block.header.height} installs a key this replica does not hold`); continue }
        if (next !== null && equalBytes(next.publicKey, r.publicKey)) next = null
        pending = null
        try { persist() } catch (e) { o.log(`operational key rotation: keys file: ${(e as Error).message}`) }
        if (o.publishFile !== undefined) {
          const p = block.events.find((e) => e.type === 'ReplicaKeyRotated' && (e.payload as { replica: number }).replica === o.index)!.payload
          try { writeFileSync(o.publishFile, JSON.stringify({ operationalPublicKey: p['operationalPublicKey'], issuedAt: p['issuedAt'], certificate: p['certificate'] }) + '\n') } catch (e) { o.log(`publish key: ${(e as Error).message}`) }
        }
        o.log(`operational key rotated at height ${block.header.height}: signing with key ${o.own.keyId}`)
      }
    },
    close: () => clearInterval(timer),
  }
}
