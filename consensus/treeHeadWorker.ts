// Worker thread for tree-head signatures (see treeHeads.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { treeHeadMessage, type TreeHead } from '../domain/ledger/treeHead.ts'
import type { SignedTreeHead } from '../domain/ledger/envelope.ts'

const secretKey = new Uint8Array((workerData as { secretKey: Uint8Array }).secretKey)
const slh = nativeCrypto.slhDsaShake256f

type Request = { id: number; op: 'sign'; th: TreeHead } | { id: number; op: 'verify'; publicKey: Uint8Array; sth: SignedTreeHead }

parentPort!.on('message', (m: Request) => {
  try {
    if (m.op === 'sign') {
      const value = slh.sign(secretKey, treeHeadMessage({ treeSize: m.th.treeSize, treeRoot: new Uint8Array(m.th.treeRoot), time: m.th.time }))
      parentPort!.postMessage({ id: m.id, ok: true, value })
    } else {
      const s = m.sth
      const ok = slh.verify(new Uint8Array(m.publicKey), treeHeadMessage({ treeSize: s.treeSize, treeRoot: new Uint8Array(s.treeRoot), time: s.time }), new Uint8Array(s.signature))
      parentPort!.postMessage({ id: m.id, ok: true, value: ok })
    }
  } catch (e) {
    parentPort!.postMessage({ id: m.id, ok: false, error: (e as Error).message })
  }
})
