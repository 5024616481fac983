// The key rotation job: device keys older than 30 days → service-signed MarkKeyRotationDue
// (clients learn it over ws and in /api/session); older than 90 days → ExpireKeys.
// Runs from a node-cron schedule inside `npm start` (ZIXT_ROTATION_CRON) and once as
// `npx zixt rotate-keys`. Replica operational keys: RotateReplicaKey must be signed by the
// replica's identity key, which only the replica holds; consensus offers no API for it yet,
// so this job reports replica keys that are due (see the report at the end).
import { createCommand, signCommand } from '../domain/command.ts'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { ZixtError } from '../domain/errors.ts'
import { limits } from '../domain/limits.ts'
import type { Ingest } from '../ingest/submit.ts'
import type { ReadModel } from '../web/server/readModel.ts'

export type RotationDeps = {
  readonly read: ReadModel
  readonly ingest: Ingest
  readonly serviceKey: { keyId: string; secretKey: Uint8Array }
  readonly now: number
  readonly log: (line: string) => void
}

export type RotationReport = { readonly markedDue: number; readonly expired: number }

async function submitBatch(d: RotationDeps, type: 'MarkKeyRotationDue' | 'ExpireKeys', keys: { userId: string; deviceId: string; keyVersion: number }[]): Promise<number> {
  let done = 0
  for (let i = 0; i < keys.length; i += limits.keysPerRotationCommandMax) {
    const batch = keys.slice(i, i + limits.keysPerRotationCommandMax)
    const command = createCommand({ type, author: d.serviceKey.keyId, signer: 'service', keyId: d.serviceKey.keyId, payload: { keys: batch } }, d.now, crypto)
    try {
      const r = await d.ingest.submit(signCommand(command, d.serviceKey.secretKey, 'service', crypto))
      if (r.kind === 'committed') done += r.events.length
      else d.log(`rotate-keys: ${type} rejected: ${r.code} ${r.reason}`)
    } catch (e) {
      d.log(`rotate-keys: ${type}: ${e instanceof ZixtError ? `${e.code} ${e.message}` : (e as Error).message}`)
    }
  }
  return done
}

export async function rotateKeys(d: RotationDeps): Promise<RotationReport> {
  const old = await d.read.devicesIssuedBefore(d.now - limits.deviceKeyRotationDueMs, 100_000)
  const expire = old.filter((x) => x.issuedAt < d.now - limits.deviceKeyExpiryMs)
  const due = old.filter((x) => x.issuedAt >= d.now - limits.deviceKeyExpiryMs && !x.rotationDue)
  const key = (x: (typeof old)[number]) => ({ userId: x.userId, deviceId: x.deviceId, keyVersion: x.keyVersion })
  const markedDue = due.length === 0 ? 0 : await submitBatch(d, 'MarkKeyRotationDue', due.map(key))
  const expired = expire.length === 0 ? 0 : await submitBatch(d, 'ExpireKeys', expire.map(key))
  d.log(`rotate-keys: ${markedDue} device key(s) marked due, ${expired} expired`)
  return { markedDue, expired }
}

export async function main(args: string[]): Promise<number> {
  const { startSystem } = await import('./start.ts')
  const i = args.indexOf('--data')
  const sys = await startSystem({
    dataDir: i >= 0 ? args[i + 1]! : process.env['ZIXT_DATA'] ?? './data', port: 0,
    mysqlUrl: process.env['ZIXT_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/zixt', redisPrefix: process.env['ZIXT_REDIS_PREFIX'] ?? 'zixt:',
  })
  try {
    await rotateKeys({ read: sys.read, ingest: sys.ingest, serviceKey: sys.serviceKey, now: Date.now(), log: (l) => process.stdout.write(`${l}\n`) })
    return 0
  } finally {
    await sys.stop()
  }
}
