// Web Worker entry: runs the slow pure-JS crypto (SLH-DSA, scrypt) off the page's thread.
// Messages: { id, op, input } → { id, ok: true, result } | { id, ok: false, error }.
import { nobleCrypto } from '../../domain/crypto/noble.ts'
import { directSlowOps, type SlowOps } from './core/slowOps.ts'

const ops = directSlowOps(nobleCrypto)
type Request = { id: number; op: keyof SlowOps; input: unknown }

const scope = globalThis as unknown as { onmessage: ((ev: MessageEvent<Request>) => void) | null; postMessage(m: unknown): void }
scope.onmessage = (ev) => {
  const { id, op, input } = ev.data
  const fn = ops[op] as (i: unknown) => Promise<unknown>
  fn(input).then(
    (result) => scope.postMessage({ id, ok: true, result }),
    (e: unknown) => {
      const err = e as { name?: string; code?: string; message?: string }
      scope.postMessage({ id, ok: false, error: { name: err.name ?? 'Error', code: err.code ?? 'ZIXT_ERR_INTERNAL', message: err.message ?? String(e) } })
    },
  )
}
