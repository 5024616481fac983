// A local cluster: keys and genesis on first run, one data folder, one process per replica.
// `npx zixt cluster`, `npm start` and the benchmarks all go through startCluster().
//
// Layout of the data folder:
//   genesis.cbor                 the genesis (replica keys, certificates, service keys)
//   cluster.json                 replica addresses, the service key file
//   service-key.json  (0600)     ML-DSA-65 seed of 'service:ingest', used by ingest/web as
//                                the consensus client key and to sign service commands
//   replica-<i>/keys.json (0600) SLH-DSA identity secret key, ML-DSA-65 operational seed
//   replica-<i>/config.json      what `zixt node --config` reads
//   replica-<i>/ledger/          the replica's LedgerStore
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { replaceFileDurably } from './store/durableFile.ts'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nativeCrypto } from '../domain/crypto/native.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { fromBase64url, toBase64url } from '../domain/encoding.ts'
import { decodeGenesis, encodeGenesis, type Genesis } from '../domain/genesis.ts'
import { signReplicaKeyCertificate, verifyReplicaKeyCertificate } from '../domain/node/certificate.ts'
import { connectClient, type ConsensusClient } from './client.ts'
import type { ReplicaConfig } from './config.ts'
import { signedCommandId } from './ledgerApp.ts'
import type { NodeStats } from './node.ts'
import { staticPeers, type PeerAddress } from './net/peers.ts'

export type ServiceKey = { readonly keyId: string; readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }

export type NodeConfigFile = {
  readonly index: number
  readonly host: string
  readonly port: number
  readonly genesisFile: string
  readonly keysFile: string
  readonly ledgerDir: string
  readonly peers: readonly PeerAddress[]
  readonly replica?: Partial<ReplicaConfig>
  readonly treeHeadIntervalMs?: number
}

type ClusterFile = { readonly chainId: string; readonly replicas: readonly PeerAddress[]; readonly serviceKeyFile: string }

export const SERVICE_KEY_ID = 'service:ingest'

// Replica ports are written into genesis and the configs, so they must stay free until the
// replicas bind them. Port 0 hands out a port from the kernel's ephemeral range, where any
// outgoing connection (MySQL, Redis, HTTP clients in the same tests) may take it in between;
// so pick below that range (Linux default 32768–60999) and check that it binds.
const replicaPortMin = 20_000
const replicaPortMax = 32_000
const freePortAttemptsMax = 200

function tryBind(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer()
    s.once('error', () => res(false))
    s.listen(port, host, () => s.close(() => res(true)))
  })
}

async function freePort(host: string): Promise<number> {
  for (let attempt = 0; attempt < freePortAttemptsMax; attempt++) {
    const port = replicaPortMin + Math.floor(Math.random() * (replicaPortMax - replicaPortMin))
    if (await tryBind(host, port)) return port
  }
  throw new Error(`no free replica port in ${replicaPortMin}–${replicaPortMax} on ${host} after ${freePortAttemptsMax} attempts`)
}

function writeSecret(file: string, value: object): void {
  replaceFileDurably(file, JSON.stringify(value, null, 2) + '\n')
}

export type InitOptions = { readonly replicas?: number; readonly host?: string; readonly crypto?: CryptoFacade; readonly chainId?: string }

/** Creates keys, genesis and configs under dataDir unless they exist. Returns the genesis. */
export async function initCluster(dataDir: string, o: InitOptions = {}): Promise<Genesis> {
  const dir = resolve(dataDir)
  const genesisFile = join(dir, 'genesis.cbor')
  if (existsSync(genesisFile)) return decodeGenesis(new Uint8Array(readFileSync(genesisFile)))
  const crypto = o.crypto ?? nativeCrypto
  const n = o.replicas ?? 4
  if (n < 4 || (n - 1) % 3 !== 0) throw new Error(`--replicas ${n}: PBFT needs n = 3f+1 ≥ 4`)
  const host = o.host ?? '127.0.0.1'
  mkdirSync(dir, { recursive: true })
  const createdAt = Date.now()
  const chainId = o.chainId ?? `zixt-local-${toBase64url(crypto.randomBytes(4)).toLowerCase().replace(/[^a-z0-9]/g, '0')}`
  const replicas: Genesis['replicas'][number][] = []
  const addresses: PeerAddress[] = []
  for (let i = 0; i < n; i++) {
    const identity = crypto.slhDsaShake256f.keygen()
    const operational = crypto.mlDsa65.keygen()
    const operationalKeyCert = signReplicaKeyCertificate({ chainId, replica: i, operationalPublicKey: operational.publicKey, issuedAt: createdAt }, identity.secretKey, crypto)
    replicas.push({ index: i, identityPublicKey: identity.publicKey, operationalPublicKey: operational.publicKey, operationalKeyCert })
    const rdir = join(dir, `replica-${i}`)
    mkdirSync(join(rdir, 'ledger'), { recursive: true })
    writeSecret(join(rdir, 'keys.json'), { identitySecretKey: toBase64url(identity.secretKey), operationalSecretKey: toBase64url(operational.secretKey) })
    addresses.push({ index: i, host, port: await freePort(host) })
  }
  const service = crypto.mlDsa65.keygen()
  writeSecret(join(dir, 'service-key.json'), { keyId: SERVICE_KEY_ID, publicKey: toBase64url(service.publicKey), secretKey: toBase64url(service.secretKey) })
  const genesis: Genesis = { chainId, createdAt, f: (n - 1) / 3, replicas, servicePublicKeys: [{ keyId: SERVICE_KEY_ID, publicKey: service.publicKey }] }
  for (const a of addresses) {
    const cfg: NodeConfigFile = {
      index: a.index, host: a.host, port: a.port, genesisFile: '../genesis.cbor', keysFile: 'keys.json', ledgerDir: 'ledger', peers: addresses,
    }
    writeFileSync(join(dir, `replica-${a.index}`, 'config.json'), JSON.stringify(cfg, null, 2) + '\n')
  }
  const cluster: ClusterFile = { chainId, replicas: addresses, serviceKeyFile: 'service-key.json' }
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(cluster, null, 2) + '\n')
  replaceFileDurably(genesisFile, encodeGenesis(genesis), 0o644) // last, whole: its presence means "initialised"
  return genesis
}

export function readServiceKey(dataDir: string): ServiceKey {
  const v = JSON.parse(readFileSync(join(resolve(dataDir), 'service-key.json'), 'utf8')) as { keyId: string; publicKey: string; secretKey: string }
  return { keyId: v.keyId, publicKey: fromBase64url(v.publicKey), secretKey: fromBase64url(v.secretKey) }
}

export function readClusterAddresses(dataDir: string): readonly PeerAddress[] {
  return (JSON.parse(readFileSync(join(resolve(dataDir), 'cluster.json'), 'utf8')) as ClusterFile).replicas
}

/**
 * New ports for a cluster that has never run (its ports are only in the configs and
 * cluster.json, not in genesis): used when another process took a picked port between the
 * check and the replica's bind.
 */
async function repickPorts(dataDir: string): Promise<readonly PeerAddress[]> {
  const addresses: PeerAddress[] = []
  for (const a of readClusterAddresses(dataDir)) addresses.push({ ...a, port: await freePort(a.host) })
  for (const a of addresses) {
    const file = join(dataDir, `replica-${a.index}`, 'config.json')
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as NodeConfigFile
    writeFileSync(file, JSON.stringify({ ...cfg, port: a.port, peers: addresses }, null, 2) + '\n')
  }
  const clusterFile = join(dataDir, 'cluster.json')
  const cluster = JSON.parse(readFileSync(clusterFile, 'utf8')) as ClusterFile
  writeFileSync(clusterFile, JSON.stringify({ ...cluster, replicas: addresses }, null, 2) + '\n')
  return addresses
}

class PortTakenError extends Error {}

/** Rewrites every replica's config with these replica settings (tests and benchmarks tune them). */
function applyReplicaSettings(dataDir: string, n: number, replica: Partial<ReplicaConfig> | undefined, treeHeadIntervalMs: number | undefined): void {
  for (let i = 0; i < n; i++) {
    const file = join(dataDir, `replica-${i}`, 'config.json')
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as NodeConfigFile
    writeFileSync(file, JSON.stringify({ ...cfg, replica: replica ?? cfg.replica, treeHeadIntervalMs: treeHeadIntervalMs ?? cfg.treeHeadIntervalMs }, null, 2) + '\n')
  }
}

/**
 * A replica's operational keys as a client on this machine knows them: genesis, and the
 * rotated key the replica publishes in replica-<i>/operational-key.json once its rotation
 * commits — taken only with a certificate by the replica's identity key from genesis.
 */
export function knownReplicaKeys(dataDir: string, genesis: Genesis, crypto: CryptoFacade = nativeCrypto): (index: number) => Uint8Array[] {
  const cache = new Map<string, Uint8Array | null>()
  return (i) => {
    const r = genesis.replicas[i]!
    let text: string
    try {
      text = readFileSync(join(resolve(dataDir), `replica-${i}`, 'operational-key.json'), 'utf8')
    } catch {
      return [r.operationalPublicKey]
    }
    let pk = cache.get(text)
    if (pk === undefined) {
      try {
        const v = JSON.parse(text) as { operationalPublicKey: string; issuedAt: number; certificate: string }
        const key = fromBase64url(v.operationalPublicKey)
        pk = verifyReplicaKeyCertificate({ chainId: genesis.chainId, replica: i, operationalPublicKey: key, issuedAt: v.issuedAt }, fromBase64url(v.certificate), r.identityPublicKey, crypto) ? key : null
      } catch {
        pk = null
      }
      cache.set(text, pk)
    }
    return pk === null ? [r.operationalPublicKey] : [pk, r.operationalPublicKey]
  }
}

export type ClusterClientOptions = { readonly retransmitMs?: number; readonly deadlineMs?: number; readonly windowMax?: number }

/** A client of this cluster, authenticated with its service key. */
export function clusterClient(dataDir: string, genesis: Genesis, o: ClusterClientOptions & { crypto?: CryptoFacade } = {}): ConsensusClient {
  const key = readServiceKey(dataDir)
  return connectClient({
    peers: staticPeers(readClusterAddresses(dataDir)), n: genesis.replicas.length, f: genesis.f,
    replicaKey: knownReplicaKeys(dataDir, genesis, o.crypto ?? nativeCrypto), keyId: key.keyId, secretKey: key.secretKey,
    crypto: o.crypto ?? nativeCrypto, commandId: signedCommandId, retransmitMs: o.retransmitMs ?? 1000, deadlineMs: o.deadlineMs ?? 30_000,
    ...(o.windowMax === undefined ? {} : { windowMax: o.windowMax }),
  })
}

export type ClusterOptions = {
  readonly dataDir: string
  readonly replicas?: number
  readonly host?: string
  readonly replica?: Partial<ReplicaConfig>
  readonly treeHeadIntervalMs?: number
  /** Each line a replica writes (stderr: logs). Default: prefixed onto this process's stderr. */
  readonly onLog?: (index: number, line: string) => void
  readonly readyTimeoutMs?: number
  /** V8 flags of the replica processes. Default: ZIXT_REPLICA_V8_FLAGS (space-separated) if set, else replicaV8Flags. */
  readonly v8Flags?: readonly string[]
}

/**
 * A replica's young generation is capped at 16 MB a semi-space. Left to itself, V8 on this
 * 24-GB machine grows it by doubling up to 64 MB a semi-space (128 MB committed) whenever a
 * scavenge keeps much alive, and keeps it: in a 3-minute soak the primary's heap total went
 * 23 → 197 MB (new space 8 → 128 MB) while its heap used stayed under 60 MB. A fixed cap
 * makes a replica's footprint predictable (docs/consensus.md, Memory).
 */
export const replicaV8Flags: readonly string[] = ['--max-semi-space-size=16']

/**
 * glibc's malloc, fixed rather than adaptive (the operator's own settings win):
 * - MALLOC_MMAP_THRESHOLD_: glibc raises its mmap threshold (to up to 32 MB) after the first
 *   large buffer is freed, so later large buffers come from the heap arenas and stay in RSS
 *   once freed: serving a restarted peer's state transfer left each serving replica ≈ 40 MB
 *   larger, for good. A fixed 128-KiB threshold (glibc's initial one) keeps large buffers
 *   mmapped and returns them on free.
 * - MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_: fixing the mmap threshold also fixes the trim
 *   threshold at its initial 128 KiB, so the arena's top was handed back to the kernel and
 *   faulted in again, page by page, many times a second: at 1,000 commands/s page faults
 *   were 15 % of the replicas' CPU (perf), ≈ 13 a command a replica. Keeping up to 64 MiB
 *   free at the top (grown 16 MiB at a time) halved them: replica CPU per command at
 *   1,000/s 0.61 → 0.52 ms in one alternating pair, within the noise in the full bench's
 *   6,000-command burst (docs/benchmarks.md, 2026-12-05). The cost is memory that stays
 *   mapped, at most that much per arena: +0–50 MB of replica RSS in a 3-minute soak.
 * The values live in mallocEnv.json, which ops/zixt.js (`npx zixt`, `npm start`, `npm run
 * bench`) reads too.
 */
export const mallocEnv: Readonly<Record<string, string>> = JSON.parse(readFileSync(new URL('./mallocEnv.json', import.meta.url), 'utf8')) as Record<string, string>

function envV8Flags(): string[] | undefined {
  const v = process.env.ZIXT_REPLICA_V8_FLAGS
  return v === undefined ? undefined : v.split(/\s+/).filter((f) => f !== '')
}

export type RunningCluster = {
  readonly dataDir: string
  readonly genesis: Genesis
  readonly addresses: readonly PeerAddress[]
  readonly serviceKey: ServiceKey
  client(o?: ClusterClientOptions): ConsensusClient
  /** Sends a signal to one replica process (SIGKILL to crash it). */
  kill(index: number, signal?: NodeJS.Signals): Promise<void>
  /** Starts one replica process again; resolves when it listens. */
  start(index: number): Promise<void>
  pid(index: number): number | undefined
  /** The replica's last reported stats (it reports every second). */
  stats(index: number): NodeStats | undefined
  stop(): Promise<void>
}

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'ops', 'cli.ts')

export async function startCluster(o: ClusterOptions): Promise<RunningCluster> {
  const dataDir = resolve(o.dataDir)
  const genesis = await initCluster(dataDir, { replicas: o.replicas, host: o.host })
  const n = genesis.replicas.length
  // No replica has written its ledger yet: nobody can know the ports, they may still change.
  const fresh = genesis.replicas.every((r) => readdirSync(join(dataDir, `replica-${r.index}`, 'ledger')).length === 0)
  if (o.replica !== undefined || o.treeHeadIntervalMs !== undefined) applyReplicaSettings(dataDir, n, o.replica, o.treeHeadIntervalMs)
  let addresses = readClusterAddresses(dataDir)
  const children = new Map<number, ChildProcess>()
  const latest = new Map<number, NodeStats>()
  const onLog = o.onLog ?? ((_i, line) => process.stderr.write(line + '\n'))

  function spawnReplica(i: number): Promise<void> {
    const child = spawn(process.execPath, [...(o.v8Flags ?? envV8Flags() ?? replicaV8Flags), cliPath, 'node', '--config', join(dataDir, `replica-${i}`, 'config.json')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...mallocEnv, ...process.env } })
    children.set(i, child)
    const lines = (stream: NodeJS.ReadableStream, each: (line: string) => void): void => {
      let buf = ''
      stream.setEncoding('utf8')
      stream.on('data', (d: string) => {
        buf += d
        let k
        while ((k = buf.indexOf('\n')) >= 0) { each(buf.slice(0, k)); buf = buf.slice(k + 1) }
      })
    }
    const lastLines: string[] = [] // said in the error if the replica exits before it is ready
    const remember = (l: string): void => { lastLines.push(l); if (lastLines.length > 8) lastLines.shift() }
    lines(child.stderr!, (l) => { remember(l); onLog(i, l) })
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`replica ${i} not ready in time`)), o.readyTimeoutMs ?? 30_000)
      lines(child.stdout!, (l) => {
        if (l.startsWith('{"stats"')) {
          try { latest.set(i, (JSON.parse(l) as { stats: NodeStats }).stats) } catch { /* partial line */ }
        } else if (l.includes('"ready":true')) { clearTimeout(timer); res() }
        else { remember(l); onLog(i, l) }
      })
      child.once('close', (code, sig) => { // after its output is read
        clearTimeout(timer)
        const message = `replica ${i} exited (${code ?? sig}) before it was ready; its last lines:\n${lastLines.join('\n')}`
        rej(lastLines.some((l) => l.includes('EADDRINUSE')) ? new PortTakenError(message) : new Error(message))
      })
    })
  }

  async function kill(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = children.get(i)
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((r) => c.once('exit', () => r()))
    c.kill(signal)
    await exited
    children.delete(i)
  }

  for (let attempt = 1; ; attempt++) {
    try {
      await Promise.all(addresses.map((a) => spawnReplica(a.index)))
      break
    } catch (e) {
      await Promise.all([...children.keys()].map((i) => kill(i, 'SIGKILL')))
      children.clear()
      // A port picked a moment ago was taken by another process: a new cluster picks again.
      if (!(e instanceof PortTakenError && fresh && attempt < 3)) throw e
      addresses = await repickPorts(dataDir)
    }
  }
  return {
    dataDir, genesis, addresses, serviceKey: readServiceKey(dataDir),
    client: (co) => clusterClient(dataDir, genesis, co),
    kill,
    start: spawnReplica,
    pid: (i) => children.get(i)?.pid,
    stats: (i) => latest.get(i),
    stop: async () => { await Promise.all([...children.keys()].map((i) => kill(i, 'SIGTERM'))) },
  }
}
