// Raw HTTP for tests that must send what no well-behaved client would: wrong Content-Type
// and Content-Length, chunked bodies, garbage bytes, missing headers.
import { request } from 'node:http'

export type RawResponse = { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly text: string; readonly json: unknown }

export function rawRequest(
  base: string, method: string, path: string,
  o: { headers?: Record<string, string | number>; body?: string | Uint8Array | readonly Uint8Array[]; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const u = new URL(path, base)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, agent: false, method, path: u.pathname + u.search, headers: o.headers ?? {} }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let json: unknown = null
        try {
          json = text === '' ? null : JSON.parse(text)
        } catch {
          json = null
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    req.setTimeout(o.timeoutMs ?? 15_000, () => req.destroy(new Error(`${method} ${path}: no answer in time`)))
    req.on('error', reject)
    const b = o.body
    if (Array.isArray(b)) for (const chunk of b) req.write(chunk)
    else if (b !== undefined) req.write(b)
    req.end()
  })
}

/** The error code of an error answer, or null. */
export function errorCode(r: RawResponse): string | null {
  const e = (r.json as { error?: { code?: unknown } } | null)?.error
  return typeof e?.code === 'string' ? e.code : null
}

/** mulberry32: a small seeded PRNG, so a failing fuzz run can be repeated exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
