// Signed tree heads, off the event loop: SLH-DSA-SHAKE-256f costs ~160 ms per signature
// natively, so signing (and verifying peers' heads) runs in a worker thread while the
// replica keeps ordering blocks.
import { Worker } from 'node:worker_threads'
import type { SignedTreeHead } from '../domain/ledger/envelope.ts'
import type { TreeHead } from '../domain/ledger/treeHead.ts'

type Pending = { resolve(v: unknown): void; reject(e: Error): void }

export class TreeHeadSigner {
  private readonly worker: Worker
  private readonly pending = new Map<number, Pending>()
  private next = 0
  constructor(identitySecretKey: Uint8Array) {
    this.worker = new Worker(new URL('./treeHeadWorker.ts', import.meta.url), { workerData: { secretKey: identitySecretKey } })
    this.worker.unref()
    this.worker.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      if (m.ok) p.resolve(m.value)
      else p.reject(new Error(m.error))
    })
    this.worker.on('error', (e) => { for (const p of this.pending.values()) p.reject(e); this.pending.clear() })
  }
  private call(op: 'sign' | 'verify', args: object): Promise<unknown> {
    const id = this.next++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage({ id, op, ...args })
    })
  }
  async sign(th: TreeHead): Promise<Uint8Array> {
    return new Uint8Array((await this.call('sign', { th })) as Uint8Array)
  }
  async verify(identityPublicKey: Uint8Array, sth: SignedTreeHead): Promise<boolean> {
    return (await this.call('verify', { publicKey: identityPublicKey, sth })) as boolean
  }
  async close(): Promise<void> {
    await this.worker.terminate()
  }
}

/**
 * How often a replica whose tree grew signs a tree head, unless configured. An SLH-DSA-SHAKE-256f
 * signature is ~160 ms of one core and each replica verifies the others' (3 × ~4 ms): at 2 s
 * that was 0.35 of a core for 4 replicas (17 % of a 2-core machine) for as long as the ledger
 * grows, taken from ordering. At 10 s it is 0.07 core, and an event is covered by 2f+1
 * replicas' signed heads within about two intervals (20 s), well inside what an audit after
 * the fact needs. Deployments that want fresher heads set `treeHeadIntervalMs`.
 */
export const defaultTreeHeadIntervalMs = 10_000

/**
 * Milliseconds from `now` to this replica's next tree-head slot. Slots are on the wall clock,
 * `intervalMs` apart, replica i's shifted by i·intervalMs/n: the n replicas' SLH-DSA
 * signatures (~160 ms of one core each) take turns instead of landing together, which on a
 * small machine stalled every replica's consensus work at once. Replicas started at
 * different times spread the same way; clock skew only moves the turns a little.
 */
export function msToTreeHeadSlot(now: number, intervalMs: number, index: number, n: number): number {
  const offset = Math.floor((index * intervalMs) / n)
  const phase = (((now - offset) % intervalMs) + intervalMs) % intervalMs
  return intervalMs - phase
}
