// Thread names never reach the server in clear. A name is encrypted under a key exported
// from the thread's MLS group (RFC 9420 §8.5 MLS-Exporter, label "zixt/thread-name/v1",
// context = thread id), so exactly the members of that epoch can read it. The committer of
// every membership change re-encrypts the name for the new epoch (RenameThread), which also
// keeps it from a removed member. Format: base64url(encode({ v: 1, epoch, nonce, ct })).
import { mlsExporter } from 'ts-mls'
import type { CryptoFacade } from '../../../domain/crypto/types.ts'
import { fromBase64url, toBase64url, utf8Decode, utf8Encode } from '../../../domain/encoding.ts'
import { decode, encode } from '../../../domain/ledger/codec.ts'
import { groupEpoch, type Group } from './mls/group.ts'
import { mlsSuite } from './mls/suite.ts'

const LABEL = 'zixt/thread-name/v1'
export const threadNameBytesMax = 200

async function nameKey(group: Group, threadId: string): Promise<Uint8Array> {
  const cs = await mlsSuite()
  return mlsExporter(group.state.keySchedule.exporterSecret, LABEL, utf8Encode(threadId), 32, cs)
}

// Padded to 64-byte blocks so the ciphertext length says little about the name.
function pad(name: string): Uint8Array {
  const b = utf8Encode(name)
  const out = new Uint8Array(Math.ceil((b.length + 2) / 64) * 64)
  out[0] = b.length >> 8
  out[1] = b.length & 0xff
  out.set(b, 2)
  return out
}

export async function encryptThreadName(crypto: CryptoFacade, group: Group, threadId: string, name: string): Promise<string> {
  if (utf8Encode(name).length > threadNameBytesMax) throw new Error(`thread name is longer than ${threadNameBytesMax} bytes`)
  const key = await nameKey(group, threadId)
  const nonce = crypto.randomBytes(12)
  const ct = crypto.aes256gcm.encrypt(key, nonce, pad(name), utf8Encode(`${LABEL}:${threadId}`))
  key.fill(0)
  return toBase64url(encode({ v: 1, epoch: Number(groupEpoch(group)), nonce, ct }))
}

/** The epoch an encrypted name was made for, or undefined when it is not in this format. */
export function threadNameEpoch(encryptedName: string): number | undefined {
  try {
    const v = decode(fromBase64url(encryptedName)) as Record<string, unknown>
    return typeof v['epoch'] === 'number' ? v['epoch'] : undefined
  } catch {
    return undefined
  }
}

/** The name, or undefined when the group is not at the name's epoch or it does not decrypt. */
export async function decryptThreadName(crypto: CryptoFacade, group: Group, threadId: string, encryptedName: string): Promise<string | undefined> {
  try {
    const v = decode(fromBase64url(encryptedName)) as Record<string, unknown>
    if (v['v'] !== 1 || v['epoch'] !== Number(groupEpoch(group))) return undefined
    const key = await nameKey(group, threadId)
    const padded = crypto.aes256gcm.decrypt(key, v['nonce'] as Uint8Array, v['ct'] as Uint8Array, utf8Encode(`${LABEL}:${threadId}`))
    key.fill(0)
    const n = (padded[0]! << 8) | padded[1]!
    if (n + 2 > padded.length) return undefined
    return utf8Decode(padded.subarray(2, 2 + n))
  } catch {
    return undefined
  }
}
