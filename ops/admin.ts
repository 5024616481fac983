// `npx zixt admin create --username U --email E [--data DIR] [--password-file F]`: the first
// administrator. Writes the admin's key file (identity + device keys, sealed with the
// password) and stores the e-mail data key and password verifier in the running system's
// web store, then submits the service-signed BootstrapAdmin and the identity-signed
// AddDevice for that device to its cluster (data/system.json, written by `npm start`;
// start it first).
//
// Order matters: once BootstrapAdmin is committed no second one is accepted, ever, so every
// secret the admin needs is on disk (key file, written whole and fsynced) and in MySQL (data
// key) before it is submitted. A run that fails after that is finished by running the same
// command again: it opens the key file with the password and does only the steps not done.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import type { Pool } from 'mysql2/promise'
import { createFileDurably } from '../consensus/store/durableFile.ts'
import type { ConsensusClient } from '../consensus/client.ts'
import { commandBytes, createCommand, signCommand } from '../domain/command.ts'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { fromBase64url, toBase64url } from '../domain/encoding.ts'
import { CryptoError, ErrorCode } from '../domain/errors.ts'
import { signDeviceCertificate } from '../domain/identity.ts'
import { keyFileToJson, newUserKeys, openKeyFile, parseKeyFile, sealKeyFile, type KeyFileKeys } from '../domain/keyfile.ts'
import { Rejection } from '../domain/rejections.ts'
import { buildCommand } from '../web/client/core/api/commands.ts'
import { encryptEmail, defaultPasswordCost, makeVerifier } from '../web/server/secrets.ts'
import { migrateWeb, WebStore } from '../web/server/store.ts'
import { operatorContext, type OperatorContext } from './operator.ts'
import { runningSystem, systemFilePath } from './systemFile.ts'
import { promptHidden } from './keygen.ts'

/** How long a rerun waits for the read model to show what the cluster says it already committed. */
const committedWaitMs = 20_000

export type AdminDeps = {
  /** Wraps the consensus client (tests: a network that fails on the Nth submit). */
  readonly wrapClient?: (client: ConsensusClient) => ConsensusClient
}

async function password(args: string[]): Promise<string> {
  const i = args.indexOf('--password-file')
  if (i >= 0) return readFileSync(args[i + 1]!, 'utf8').replace(/\r?\n$/, '')
  const env = process.env['ZIXT_ADMIN_PASSWORD']
  if (env) return env
  const question = 'password for the admin (≥ 10 characters): '
  if (process.stdin.isTTY) return promptHidden(question) // not echoed
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return await rl.question(question)
  } finally {
    rl.close()
  }
}

type AdminKeys = { readonly kind: 'keys'; readonly keys: KeyFileKeys; readonly resumed: boolean } | { readonly kind: 'refused'; readonly reason: string }

/** The keys of an earlier, unfinished run from its key file; else new ones, sealed and written (whole, fsynced) first. */
async function adminKeys(keyFile: string, username: string, pw: string): Promise<AdminKeys> {
  if (!existsSync(keyFile)) {
    const keys = newUserKeys(crypto, username)
    const json = keyFileToJson(await sealKeyFile(keys, pw, crypto, { createdAt: Date.now() }))
    try {
      createFileDurably(keyFile, json)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      return { kind: 'refused', reason: `${keyFile} appeared while this run made its keys (another run?); not overwriting` }
    }
    return { kind: 'keys', keys, resumed: false }
  }
  const text = readFileSync(keyFile, 'utf8')
  let owner: string | null
  try {
    owner = parseKeyFile(text).username
  } catch (e) {
    return { kind: 'refused', reason: `${keyFile} exists and is not a Zixt key file (${(e as Error).message}); not overwriting` }
  }
  if (owner !== username) return { kind: 'refused', reason: `${keyFile} exists and belongs to '${owner ?? '(no username)'}', not '${username}'; not overwriting` }
  try {
    return { kind: 'keys', keys: await openKeyFile(text, pw, crypto), resumed: true }
  } catch (e) {
    if (!(e instanceof CryptoError && e.code === ErrorCode.decryptFailed)) throw e
    return { kind: 'refused', reason: `${keyFile} exists (an earlier run for '${username}') and does not open with this password: give that run's password to finish it` }
  }
}

/** Data key and password verifier, kept from an earlier run: stored before any submit (BootstrapAdmin carries the e-mail sealed with the key). */
async function storeSecrets(db: Pool, userId: string, pw: string): Promise<Uint8Array> {
  await migrateWeb(db)
  const store = new WebStore(db)
  let dataKey = await store.dataKey(userId)
  if (dataKey === null) {
    dataKey = crypto.randomBytes(32)
    await store.setDataKey(userId, dataKey, Date.now())
  }
  if ((await store.verifier(userId)) === null) await store.setVerifier(userId, await makeVerifier(pw, defaultPasswordCost, crypto), Date.now())
  return dataKey
}

async function eventually(f: () => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + committedWaitMs
  for (;;) {
    if (await f()) return true
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 200))
  }
}

type ServiceKey = { readonly keyId: string; readonly secretKey: string }
/** Why a step failed; `nothingCommitted`: the cluster rejected this run's first command, so none of its keys are in the ledger. */
type Failure = { readonly message: string; readonly nothingCommitted: boolean } | null
type Ledger = { readonly ctx: OperatorContext; readonly client: ConsensusClient; readonly service: ServiceKey; readonly keys: KeyFileKeys; readonly resumed: boolean }

/** Submits BootstrapAdmin unless an earlier run committed it for this user. */
async function bootstrap(l: Ledger, username: string, email: string, dataKey: Uint8Array): Promise<Failure> {
  const { keys, ctx, service } = l
  const isAdmin = async (): Promise<boolean> => (await ctx.read.userById(keys.userId))?.admin === true
  if (l.resumed && await isAdmin()) return null
  const boot = createCommand({
    type: 'BootstrapAdmin', author: service.keyId, signer: 'service', keyId: service.keyId,
    payload: { userId: keys.userId, username, identityPublicKey: toBase64url(keys.identity.publicKey), encryptedEmail: encryptEmail(dataKey, email, crypto) },
  }, Date.now(), crypto)
  const r = await l.client.submit(commandBytes(signCommand(boot, fromBase64url(service.secretKey), 'service', crypto)))
  if (r.kind === 'committed') return null
  // committed by the earlier run though its caller never heard (a timeout): the read model shows it soon
  const mine = r.code === Rejection.adminExists || r.code === Rejection.userExists
  if (l.resumed && mine && await eventually(isAdmin)) return null
  return { message: `BootstrapAdmin rejected: ${r.code} ${r.reason}`, nothingCommitted: !l.resumed }
}

/** Submits AddDevice for the key file's device unless an earlier run committed it. */
async function addDevice(l: Ledger): Promise<Failure> {
  const { keys, ctx } = l
  if (l.resumed && (await ctx.read.device(keys.deviceId)) !== null) return null
  const device = signDeviceCertificate({ userId: keys.userId, deviceId: keys.deviceId, devicePublicKey: keys.device.publicKey, issuedAt: Date.now(), identitySecretKey: keys.identity.secretKey }, crypto)
  const r = await l.client.submit(commandBytes(buildCommand('AddDevice', { device }, keys, Date.now(), crypto)))
  if (r.kind === 'committed' || (l.resumed && r.code === Rejection.deviceExists)) return null // the device id is its key's: ours
  return { message: `AddDevice rejected: ${r.code} ${r.reason}`, nothingCommitted: false }
}

export async function main(args: string[], deps: AdminDeps = {}): Promise<number> {
  const flag = (n: string): string | undefined => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : undefined }
  if (args[0] !== 'create' || flag('username') === undefined || flag('email') === undefined) {
    process.stderr.write('usage: zixt admin create --username U --email E [--data DIR] [--password-file F]\n')
    return 2
  }
  const username = flag('username')!
  const email = flag('email')!
  const dataDir = resolve(flag('data') ?? process.env['ZIXT_DATA'] ?? './data')
  const sys = runningSystem(dataDir)
  if (sys === null) {
    process.stderr.write(`admin: no running system on ${dataDir} (${systemFilePath(dataDir)} is missing or stale): start it with \`npm start\` first\n`)
    return 1
  }
  const pw = await password(args)
  if ([...pw].length < 10) { process.stderr.write('admin: the password needs at least 10 characters\n'); return 2 }
  const keyFile = join(dataDir, `admin-${username}.zixtkey.json`)
  const service = JSON.parse(readFileSync(join(dataDir, 'service-key.json'), 'utf8')) as ServiceKey
  const got = await adminKeys(keyFile, username, pw)
  if (got.kind === 'refused') { process.stderr.write(`admin: ${got.reason}\n`); return 1 }
  const { keys, resumed } = got
  if (resumed) process.stderr.write(`admin: ${keyFile} is from an earlier run for '${username}': finishing what it left undone\n`)
  const again = `the key file ${keyFile} is kept: once the cause is fixed, run the same command again (same username and password) to finish`
  const ctx = await operatorContext(dataDir, sys)
  const l: Ledger = { ctx, client: deps.wrapClient ? deps.wrapClient(ctx.client) : ctx.client, service, keys, resumed }
  try {
    const dataKey = await storeSecrets(ctx.db, keys.userId, pw)
    const failed = (await bootstrap(l, username, email, dataKey)) ?? (await addDevice(l))
    if (failed?.nothingCommitted === true) { // e.g. an admin exists already: leave nothing behind, as before
      await new WebStore(ctx.db).shred(keys.userId)
      rmSync(keyFile, { force: true })
      process.stderr.write(`admin: ${failed.message}\n`)
      return 1
    }
    if (failed !== null) { process.stderr.write(`admin: ${failed.message}; ${again}\n`); return 1 }
    process.stdout.write(`admin '${username}' created (user ${keys.userId}); key file ${keyFile} (passphrase = the password): import it in the browser to log in\n`)
    return 0
  } catch (e) {
    process.stderr.write(`admin: ${(e as Error).message}; ${again}\n`)
    return 1
  } finally {
    await ctx.close()
  }
}
