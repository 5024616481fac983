// Signed messages carry a domain-separation prefix so a signature made for one
// purpose (a commit vote, a tree head) can never be presented as another.
import { encode, type Value } from './codec.ts'

const utf8 = new TextEncoder()

/** prefix (ASCII, no NUL) || 0x00 || canonical body. */
export function domainMessage(prefix: string, body: Value): Uint8Array {
  const p = utf8.encode(prefix)
  const b = encode(body)
  const out = new Uint8Array(p.length + 1 + b.length)
  out.set(p)
  out.set(b, p.length + 1)
  return out
}
