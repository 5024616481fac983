// `zixt cluster [--data DIR] [--replicas 4]`: a local PBFT cluster, one process per replica.
// Keys and genesis are made on first run; Ctrl-C or SIGTERM stops every replica.
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { startCluster } from '../consensus/cluster.ts'

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string', default: 'data' }, replicas: { type: 'string', default: '4' } } })
  const replicas = Number(values.replicas)
  const cluster = await startCluster({ dataDir: values.data!, replicas })
  process.stdout.write(`zixt cluster: ${cluster.addresses.length} replicas, chain ${cluster.genesis.chainId}, data in ${cluster.dataDir}\n`)
  for (const a of cluster.addresses) process.stdout.write(`  replica ${a.index}  tls://${a.host}:${a.port}  pid ${cluster.pid(a.index)}\n`)
  process.stdout.write(`  service key (client auth, service commands): ${join(cluster.dataDir, 'service-key.json')}\n`)
  await new Promise<void>((res) => {
    process.once('SIGINT', res)
    process.once('SIGTERM', res)
  })
  process.stdout.write('stopping replicas…\n')
  await cluster.stop()
  return 0
}
