// `zixt node --config FILE`: one replica process (see consensus/cluster.ts for the files).
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { fromBase64url, toBase64url } from '../domain/encoding.ts'
import { decodeGenesis, verifyGenesis } from '../domain/genesis.ts'
import { LedgerStore } from '../consensus/store/ledgerStore.ts'
import type { NodeConfigFile } from '../consensus/cluster.ts'
import { keyTrackingApp, ledgerProtocolKeys, OwnOperationalKeys, ReplicaKeyBook } from '../consensus/keys.ts'
import { startKeyRotation, writeKeysFile, type KeysFile } from '../consensus/keyRotation.ts'
import { ledgerApp, recoverLedger } from '../consensus/ledgerApp.ts'
import { startReplicaNode } from '../consensus/node.ts'
import { heapSpacesMB, mb, trackLiveHeap } from './memory.ts'
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
  const keysFile = resolve(base, cfg.keysFile)
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as KeysFile
  const identitySecretKey = fromBase64url(keys.identitySecretKey)
  if (genesis.replicas[cfg.index] === undefined) {
    process.stderr.write(`replica ${cfg.index}: not in genesis\n`)
    return 1
  }
  const store = await LedgerStore.open(resolve(base, cfg.ledgerDir), { hash: crypto.sha3_256 })
  // The operational keys follow the ledger: genesis, then each committed ReplicaKeyRotated.
  const book = new ReplicaKeyBook(genesis, crypto)
  const recovered = recoverLedger(genesis, store, crypto, (b) => book.noteCommitted(b.header.height, b.header.time, b.events))
  const held = [keys.operationalSecretKey, keys.nextOperationalSecretKey].filter((k): k is string => k !== undefined).map((k) => fromBase64url(k))
  const currentKey = book.current(cfg.index)
  const operationalSecretKey = held.find((sk) => Buffer.from(crypto.mlDsa65.keygen(sk).publicKey).equals(currentKey.publicKey))
  if (operationalSecretKey === undefined) {
    process.stderr.write(`replica ${cfg.index}: ${cfg.keysFile} holds no key the ledger lists as its operational key (${currentKey.keyId})\n`)
    await store.close()
    return 1
  }
  const own = new OwnOperationalKeys(operationalSecretKey, crypto)
  const next = keys.nextOperationalSecretKey !== undefined && held[1] !== operationalSecretKey ? held[1]! : null
  if (operationalSecretKey !== held[0]) {
    // stopped after the rotation committed, before keys.json said so
    writeKeysFile(keysFile, { identitySecretKey: keys.identitySecretKey, operationalSecretKey: toBase64url(operationalSecretKey) })
  }
  if (next !== null) own.add(next)
  let started: Awaited<ReturnType<typeof startReplicaNode>> | null = null
  const rotation = startKeyRotation({
    index: cfg.index, chainId: genesis.chainId, book, own, identitySecretKey, keysFile, requestFile: resolve(base, 'rotate-request'), publishFile: resolve(base, 'operational-key.json'), crypto, next,
    submit: (bytes) => started?.submitOwn(bytes), log: (l) => process.stderr.write(`[replica ${cfg.index}] info: ${l}\n`),
  })
  const node = started = await startReplicaNode({
    index: cfg.index, host: cfg.host, port: cfg.port, peers: staticPeers(cfg.peers), replica: cfg.replica, treeHeadIntervalMs: cfg.treeHeadIntervalMs,
    app: keyTrackingApp(ledgerApp(crypto), book), recover: () => recovered, store, crypto, keyBook: book, ownKeys: own,
    onCommitted: (b) => rotation.onCommitted(b),
    directory: {
      n: genesis.replicas.length,
      operationalKey: (i) => book.current(i).publicKey,
      identityKey: (i) => genesis.replicas[i]!.identityPublicKey,
      keyIdOf: (i) => book.current(i).keyId,
      clientKey: (keyId) => genesis.servicePublicKeys.find((s) => s.keyId === keyId)?.publicKey ?? null,
    },
    protocolKeys: ledgerProtocolKeys(book, cfg.index, own, crypto),
    operationalSecretKey, identitySecretKey,
  })
  // Ready once every peer is connected (or after a short wait when some peer is down), so
  // the first commands do not race the mesh coming up.
  for (let waited = 0; node.connectedPeers() < genesis.replicas.length - 1 && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50))
  process.stdout.write(JSON.stringify({ ready: true, index: cfg.index, port: node.port, height: node.stats().height }) + '\n')
  const live = trackLiveHeap()
  const statsTimer = setInterval(() => {
    const m = process.memoryUsage()
    const liveMB = live.mb === null ? null : Math.round(live.mb)
    const memory = { rssMB: mb(m.rss), heapMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers), spacesMB: heapSpacesMB(), liveMB }
    process.stdout.write(JSON.stringify({ stats: { ...node.stats(), memory } }) + '\n')
  }, 1000)
  await new Promise<void>((res) => {
    process.once('SIGTERM', res)
    process.once('SIGINT', res)
  })
  clearInterval(statsTimer)
  live.stop()
  rotation.close()
  await node.close()
  return 0
}
