// A replica's port is picked when the cluster is initialised and bound only when the replica
// starts; another process may take it in between. A cluster that has never run picks again
// (nobody knows its ports yet); one that has run must not move and says which port is taken.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { initCluster, readClusterAddresses, startCluster } from './cluster.ts'
import { makeWorkload } from './testing/workload.ts'

const fast = { viewTimeoutMs: 1000, checkpointInterval: 64, rotateEveryBlocks: 0 }

function occupy(host: string, port: number): Promise<Server> {
  return new Promise((res, rej) => {
    const s = createServer((socket) => socket.destroy()) // peers dialling the old port get nothing
    s.once('error', rej)
    s.listen(port, host, () => res(s))
  })
}
const close = (s: Server): Promise<void> => new Promise((res) => s.close(() => res()))

t.test('a port taken before the first start: the new cluster picks other ports and commits; after it has run, it refuses to move', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zixt-ports-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await initCluster(dir)
  const picked = readClusterAddresses(dir)
  const taken = picked[2]!
  const squatter = await occupy(taken.host, taken.port)
  t.teardown(() => void squatter.close())

  const logs: string[] = []
  const c = await startCluster({ dataDir: dir, replica: fast, onLog: (i, l) => logs.push(`${i}: ${l}`) })
  const moved = readClusterAddresses(dir)
  t.not(moved[2]!.port, taken.port, 'replica 2 no longer uses the taken port')
  t.same(c.addresses, moved, 'the running cluster uses the addresses cluster.json now lists')
  for (const a of moved) {
    const cfg = JSON.parse(readFileSync(join(dir, `replica-${a.index}`, 'config.json'), 'utf8')) as { port: number; peers: unknown }
    t.equal(cfg.port, a.port, `replica ${a.index}'s config has its new port`)
    t.same(cfg.peers, moved, `replica ${a.index}'s config lists the new peers`)
  }
  t.ok(logs.some((l) => l.includes('EADDRINUSE')), 'the failed first attempt was logged')
  const client = c.client({ retransmitMs: 500, deadlineMs: 20_000 })
  const w = makeWorkload(nativeCrypto, c.serviceKey)
  for (const s of w.setup) t.equal((await client.submit(s)).kind, 'committed', 'setup command committed on the new ports')
  client.close()
  await c.stop()
  await close(squatter)

  // Now its ledgers hold blocks and clients know its ports: a taken port is an error, not a move.
  const now = readClusterAddresses(dir)
  const squatter2 = await occupy(now[1]!.host, now[1]!.port)
  t.teardown(() => close(squatter2))
  await t.rejects(startCluster({ dataDir: dir, replica: fast, onLog: () => {} }), /replica 1 exited .*before it was ready[\s\S]*EADDRINUSE/, 'says replica 1 could not bind its port')
  t.same(readClusterAddresses(dir), now, 'cluster.json unchanged')
})
