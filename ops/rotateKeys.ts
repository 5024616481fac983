// The key rotation job: device keys older than 30 days → service-signed MarkKeyRotationDue
// (clients learn it over ws and in /api/session); older than 90 days → ExpireKeys.
// Runs from a node-cron schedule inside `npm start` (ZIXT_ROTATION_CRON) and once as
// `npx zixt rotate-keys`, both through rotateKeys(). Replica operational keys:
// RotateReplicaKey must be signed by the replica's identity key, which only the replica
// holds, so each replica node rotates its own key once it is older than
// limits.replicaKeyRotationMs (consensus/keyRotation.ts). `zixt rotate-keys --replica i`
// asks replica i to rotate now: it writes replica-<i>/rotate-request, which the node picks up.
import { readServiceKey } from '../consensus/cluster.ts'
import type { CommandResult } from '../consensus/app.ts'
import { commandBytes, createCommand, signCommand, type SignedDomainCommand } from '../domain/command.ts'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { ZixtError } from '../domain/errors.ts'
import { limits } from '../domain/limits.ts'
import type { ReadModel } from '../web/server/readModel.ts'

export type RotationDeps = {
  readonly read: Pick<ReadModel, 'devicesIssuedBefore'>
  /** Hands a service-signed command to consensus (ingest inside `npm start`, the consensus client from the CLI). */
  readonly submit: (signed: SignedDomainCommand) => Promise<CommandResult>
  /** Block time of the ledger event at `position` (the domain ages keys by it). */
  readonly eventTime: (position: number) => number | null
  readonly serviceKey: { keyId: string; secretKey: Uint8Array }
  readonly now: number // also the commands' time: consensus accepts them only near its block time
  readonly log: (line: string) => void
}

export type RotationReport = { readonly markedDue: number; readonly expired: number; readonly rejected: number }
type KeyRef = { userId: string; deviceId: string; keyVersion: number }

async function submitBatch(d: RotationDeps, type: 'MarkKeyRotationDue' | 'ExpireKeys', keys: KeyRef[]): Promise<{ done: number; rejected: number }> {
  let done = 0
  let rejected = 0
  for (let i = 0; i < keys.length; i += limits.keysPerRotationCommandMax) {
    const batch = keys.slice(i, i + limits.keysPerRotationCommandMax)
    const command = createCommand({ type, author: d.serviceKey.keyId, signer: 'service', keyId: d.serviceKey.keyId, payload: { keys: batch } }, d.now, crypto)
    try {
      const r = await d.submit(signCommand(command, d.serviceKey.secretKey, 'service', crypto))
      if (r.kind === 'committed') done += r.events.length
      else { rejected++; d.log(`rotate-keys: ${type} rejected: ${r.code} ${r.reason}`) }
    } catch (e) {
      rejected++
      d.log(`rotate-keys: ${type}: ${e instanceof ZixtError ? `${e.code} ${e.message}` : (e as Error).message}`)
    }
  }
  return { done, rejected }
}

/** Which keys are due or expired at `now`, by the block time of the event that installed each key. */
export async function selectKeys(d: Pick<RotationDeps, 'read' | 'eventTime' | 'now'>): Promise<{ due: KeyRef[]; expire: KeyRef[] }> {
  // a certificate may be dated up to commandSkewMs after its block: widen the query by that much
  const old = await d.read.devicesIssuedBefore(d.now - limits.deviceKeyRotationDueMs + limits.commandSkewMs, limits.rotationCandidatesMax)
  const due: KeyRef[] = []
  const expire: KeyRef[] = []
  for (const x of old) {
    const created = d.eventTime(x.keyAddedPosition)
    if (created === null) continue // the read model is ahead of the ledger copy we read: next run
    const key = { userId: x.userId, deviceId: x.deviceId, keyVersion: x.keyVersion }
    if (d.now - created >= limits.deviceKeyExpiryMs) expire.push(key)
    else if (d.now - created >= limits.deviceKeyRotationDueMs && !x.rotationDue) due.push(key)
  }
  return { due, expire }
}

export async function rotateKeys(d: RotationDeps): Promise<RotationReport> {
  const { due, expire } = await selectKeys(d)
  const a = due.length === 0 ? { done: 0, rejected: 0 } : await submitBatch(d, 'MarkKeyRotationDue', due)
  const b = expire.length === 0 ? { done: 0, rejected: 0 } : await submitBatch(d, 'ExpireKeys', expire)
  d.log(`rotate-keys: ${a.done} device key(s) marked due, ${b.done} expired${a.rejected + b.rejected > 0 ? `, ${a.rejected + b.rejected} batch(es) rejected` : ''}`)
  return { markedDue: a.done, expired: b.done, rejected: a.rejected + b.rejected }
}

const USAGE = 'usage: zixt rotate-keys [--data DIR] [--replica I (ask replica I to rotate its operational key now)]   (against the system `npm start` runs on DIR; without one, starts the cluster for the run)'

/**
 * `npx zixt rotate-keys`: against the running system (data/system.json) it submits through
 * the consensus client with the service key and reads that system's read model. With no
 * system running it starts what the job needs — the 4 replicas and a projection catch-up —
 * runs once and stops them again.
 */
export async function main(args: string[]): Promise<number> {
  if (args.includes('--help')) { process.stdout.write(USAGE + '\n'); return 0 }
  const i = args.indexOf('--data')
  const dataDir = i >= 0 ? args[i + 1]! : process.env['ZIXT_DATA'] ?? './data'
  const log = (l: string): void => { process.stdout.write(`${l}\n`) }
  const r = args.indexOf('--replica')
  if (r >= 0) {
    const { writeFileSync, existsSync } = await import('node:fs')
    const { join } = await import('node:path')
    const dir = join(dataDir, `replica-${Number(args[r + 1])}`)
    if (!existsSync(join(dir, 'keys.json'))) { process.stderr.write(`rotate-keys: no replica ${args[r + 1]} in ${dataDir}\n`); return 2 }
    writeFileSync(join(dir, 'rotate-request'), `${new Date().toISOString()}\n`)
    log(`rotate-keys: replica ${args[r + 1]} asked to rotate its operational key`)
    return 0
  }
  const { runningSystem } = await import('./systemFile.ts')
  const sys = runningSystem(dataDir)
  const { operatorContext, standaloneContext } = await import('./operator.ts')
  const ctx = sys !== null ? await operatorContext(dataDir, sys) : await standaloneContext(dataDir, log)
  try {
    const r = await rotateKeys({
      read: ctx.read, serviceKey: readServiceKey(dataDir), now: Date.now(), log,
      eventTime: ctx.eventTime,
      submit: async (signed) => ctx.client.submit(commandBytes(signed)),
    })
    return r.rejected > 0 ? 1 : 0
  } finally {
    await ctx.close()
  }
}
