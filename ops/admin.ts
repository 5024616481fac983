// `npx zixt admin create --username U --email E [--data DIR] [--password-file F]`: the first
// administrator. Writes the admin's key file (identity + device keys, sealed with the
// password), submits the service-signed BootstrapAdmin and the identity-signed AddDevice
// for that device to the running system's cluster (data/system.json, written by `npm start`;
// start it first), and stores the password verifier and e-mail data key in that system's
// web store.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { commandBytes, createCommand, signCommand } from '../domain/command.ts'
import { nativeCrypto as crypto } from '../domain/crypto/native.ts'
import { fromBase64url, toBase64url } from '../domain/encoding.ts'
import { signDeviceCertificate } from '../domain/identity.ts'
import { keyFileToJson, newUserKeys, sealKeyFile } from '../domain/keyfile.ts'
import { buildCommand } from '../web/client/core/api/commands.ts'
import { encryptEmail, defaultPasswordCost, makeVerifier } from '../web/server/secrets.ts'
import { migrateWeb, WebStore } from '../web/server/store.ts'
import { operatorContext } from './operator.ts'
import { runningSystem, systemFilePath } from './systemFile.ts'
import { promptHidden } from './keygen.ts'

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

export async function main(args: string[]): Promise<number> {
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
  if (existsSync(keyFile)) { process.stderr.write(`admin: ${keyFile} exists; not overwriting\n`); return 1 }
  const service = JSON.parse(readFileSync(join(dataDir, 'service-key.json'), 'utf8')) as { keyId: string; secretKey: string }
  const keys = newUserKeys(crypto, username)
  const dataKey = crypto.randomBytes(32)
  const encryptedEmail = encryptEmail(dataKey, email, crypto)
  const ctx = await operatorContext(dataDir, sys)
  const { client, db } = ctx
  try {
    const boot = createCommand({
      type: 'BootstrapAdmin', author: service.keyId, signer: 'service', keyId: service.keyId,
      payload: { userId: keys.userId, username, identityPublicKey: toBase64url(keys.identity.publicKey), encryptedEmail },
    }, Date.now(), crypto)
    const r1 = await client.submit(commandBytes(signCommand(boot, fromBase64url(service.secretKey), 'service', crypto)))
    if (r1.kind === 'rejected') { process.stderr.write(`admin: BootstrapAdmin rejected: ${r1.code} ${r1.reason}\n`); return 1 }
    const device = signDeviceCertificate({ userId: keys.userId, deviceId: keys.deviceId, devicePublicKey: keys.device.publicKey, issuedAt: Date.now(), identitySecretKey: keys.identity.secretKey }, crypto)
    const r2 = await client.submit(commandBytes(buildCommand('AddDevice', { device }, keys, Date.now(), crypto)))
    if (r2.kind === 'rejected') { process.stderr.write(`admin: AddDevice rejected: ${r2.code} ${r2.reason}\n`); return 1 }
    await migrateWeb(db)
    const store = new WebStore(db)
    await store.setDataKey(keys.userId, dataKey, Date.now())
    await store.setVerifier(keys.userId, await makeVerifier(pw, defaultPasswordCost, crypto), Date.now())
    writeFileSync(keyFile, keyFileToJson(await sealKeyFile(keys, pw, crypto, { createdAt: Date.now() })), { mode: 0o600 })
    process.stdout.write(`admin '${username}' created (user ${keys.userId}); key file ${keyFile} (passphrase = the password): import it in the browser to log in\n`)
    return 0
  } finally {
    await ctx.close()
  }
}
