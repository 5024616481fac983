// `zixt node --config FILE`: one replica process (see consensus/cluster.ts for the files).
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { fromBase64url } from '../domain/encoding.ts'
import { decodeGenesis, verifyGenesis } from '../domain/genesis.ts'
import { LedgerStore } from '../consensus/store/ledgerStore.ts'
import type { NodeConfigFile } from '../consensus/cluster.ts'
import { genesisProtocolKeys } from '../consensus/keys.ts'
import { ledgerApp, recoverLedger } from '../consensus/ledgerApp.ts'
import { startReplicaNode } from '../consensus/node.ts'
import { staticPeers } from '../consensus/net/peers.ts'

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } })
  if (values.config === undefined) {
    process.stderr.write('usage: zixt node --config FILE\n')
    return 2
  }
  const file = resolve(values.config)
  const base = dirname(file)
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as NodeConfigFile
  const crypto = nativeCrypto
  const genesis = decodeGenesis(new Uint8Array(readFileSync(resolve(base, cfg.genesisFile))))
  verifyGenesis(genesis, crypto)
  const keys = JSON.parse(readFileSync(resolve(base, cfg.keysFile), 'utf8')) as { identitySecretKey: string; operationalSecretKey: string }
  const operationalSecretKey = fromBase64url(keys.operationalSecretKey)
  const identitySecretKey = fromBase64url(keys.identitySecretKey)
  const mine = genesis.replicas[cfg.index]
  if (mine === undefined || !Buffer.from(crypto.mlDsa65.keygen(operationalSecretKey).publicKey).equals(mine.operationalPublicKey)) {
    process.stderr.write(`replica ${cfg.index}: the operational key in ${cfg.keysFile} is not the one genesis lists\n`)
    return 1
  }
  const store = await LedgerStore.open(resolve(base, cfg.ledgerDir), { hash: crypto.sha3_256 })
  const node = await startReplicaNode({
    index: cfg.index, host: cfg.host, port: cfg.port, peers: staticPeers(cfg.peers), replica: cfg.replica, treeHeadIntervalMs: cfg.treeHeadIntervalMs,
    app: ledgerApp(crypto), recover: () => recoverLedger(genesis, store, crypto), store, crypto,
    directory: {
      n: genesis.replicas.length,
      operationalKey: (i) => genesis.replicas[i]!.operationalPublicKey,
      identityKey: (i) => genesis.replicas[i]!.identityPublicKey,
      keyIdOf: (i) => genesisProtocolKeys(genesis, cfg.index, operationalSecretKey, crypto).keyIdOf(i),
      clientKey: (keyId) => genesis.servicePublicKeys.find((s) => s.keyId === keyId)?.publicKey ?? null,
    },
    protocolKeys: genesisProtocolKeys(genesis, cfg.index, operationalSecretKey, crypto),
    operationalSecretKey, identitySecretKey,
  })
  // Ready once every peer is connected (or after a short wait when some peer is down), so
  // the first commands do not race the mesh coming up.
  for (let waited = 0; node.connectedPeers() < genesis.replicas.length - 1 && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50))
  process.stdout.write(JSON.stringify({ ready: true, index: cfg.index, port: node.port, height: node.stats().height }) + '\n')
  const statsTimer = setInterval(() => process.stdout.write(JSON.stringify({ stats: node.stats() }) + '\n'), 1000)
  await new Promise<void>((res) => {
    process.once('SIGTERM', res)
    process.once('SIGINT', res)
  })
  clearInterval(statsTimer)
  await node.close()
  return 0
}
