// SlowOps backed by the Web Worker (worker.ts). Browser only.
import { ZixtError } from '../../../domain/errors.ts'
import type { SlowOps } from './slowOps.ts'

export function workerSlowOps(url: string): SlowOps {
  const worker = new Worker(url, { type: 'module' })
  let next = 1
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  worker.onmessage = (ev: MessageEvent<{ id: number; ok: boolean; result?: unknown; error?: { code: string; message: string } }>) => {
    const w = waiting.get(ev.data.id)
    if (w === undefined) return
    waiting.delete(ev.data.id)
    if (ev.data.ok) w.resolve(ev.data.result)
    else w.reject(new ZixtError(ev.data.error!.code as never, ev.data.error!.message))
  }
  const call = (op: keyof SlowOps) => (input: unknown): Promise<never> =>
    new Promise((resolve, reject) => {
      const id = next++
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      worker.postMessage({ id, op, input })
    })
  return {
    newAccount: call('newAccount'),
    sealKeyFile: call('sealKeyFile'),
    openKeyFile: call('openKeyFile'),
    signIdentity: call('signIdentity'),
    rotateDeviceKey: call('rotateDeviceKey'),
  } as SlowOps
}
