// `npx zixt keygen`: a new user identity key (SLH-DSA-SHAKE-256f) and device key (ML-DSA-65),
// written as a passphrase-sealed key file (domain/keyfile.ts) readable only by its owner.
import { readFile } from 'node:fs/promises'
import { createFileDurably, replaceFileDurably } from '../consensus/store/durableFile.ts'
import { parseArgs } from 'node:util'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { ZixtError } from '../domain/errors.ts'
import { fingerprint } from '../domain/identity.ts'
import { keyFileToJson, newUserKeys, sealKeyFile } from '../domain/keyfile.ts'
import { usernameSchema, validate } from '../domain/schemas.ts'

const usage = `usage: zixt keygen [--out FILE] [--force] [--username NAME] [--passphrase-file FILE]

Writes a new identity + device key file, encrypted with a passphrase (scrypt + AES-256-GCM).
  --out FILE              where to write (default ./zixt-keys.json); never overwritten without --force
  --force                 replace an existing file
  --username NAME         stored in the file (clear text, authenticated)
  --passphrase-file FILE  read the passphrase from FILE (first line)
The passphrase comes from --passphrase-file, else the ZIXT_PASSPHRASE environment variable,
else it is asked for on the terminal (twice, not echoed).
`

class UsageError extends Error {}

/** Reads a line from the terminal without echo; Ctrl-C aborts. */
export function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = process
  return new Promise((resolve, reject) => {
    let answer = ''
    // Echo off before the prompt appears: whatever is typed after seeing it stays hidden.
    stdin.setRawMode(true)
    stderr.write(question)
    stdin.resume()
    stdin.setEncoding('utf8')
    const done = (result: () => void) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      stderr.write('\n')
      result()
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(answer))
        if (ch === '\u0003' || ch === '\u0004') return done(() => reject(new UsageError('aborted')))
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('')
        else if (ch >= ' ') answer += ch
      }
    }
    stdin.on('data', onData)
  })
}

async function readPassphrase(passphraseFile: string | undefined): Promise<string> {
  if (passphraseFile !== undefined) {
    const text = await readFile(passphraseFile, 'utf8')
    return text.split(/\r?\n/)[0] ?? ''
  }
  const fromEnv = process.env['ZIXT_PASSPHRASE']
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (!process.stdin.isTTY) throw new UsageError('no passphrase: use --passphrase-file FILE, set ZIXT_PASSPHRASE, or run on a terminal')
  const first = await promptHidden('Passphrase for the new key file: ')
  const again = await promptHidden('Repeat the passphrase: ')
  if (first !== again) throw new UsageError('the passphrases differ')
  return first
}

/** Owner-only file, written whole or not at all (a crash leaves no torn key file); with --force replacing one. */
function writeKeyFile(path: string, json: string, force: boolean): void {
  if (force) return replaceFileDurably(path, json)
  try {
    createFileDurably(path, json)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`refusing to overwrite ${path} (use --force)`)
    throw e
  }
}

export async function main(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      options: {
        out: { type: 'string', default: './zixt-keys.json' },
        force: { type: 'boolean', default: false },
        username: { type: 'string' },
        'passphrase-file': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    if (values.help) {
      process.stdout.write(usage)
      return 0
    }
    if (values.username !== undefined) validate(usernameSchema, values.username, 'username')
    const passphrase = await readPassphrase(values['passphrase-file'])
    const keys = newUserKeys(nativeCrypto, values.username ?? null)
    const file = await sealKeyFile(keys, passphrase, nativeCrypto, { createdAt: Date.now() })
    writeKeyFile(values.out, keyFileToJson(file), values.force)
    process.stdout.write(
      [
        `wrote ${values.out} (owner read/write only)`,
        `user id:              ${keys.userId}`,
        `device id:            ${keys.deviceId}`,
        `identity fingerprint: ${fingerprint(keys.identity.publicKey, nativeCrypto)}`,
        `device fingerprint:   ${fingerprint(keys.device.publicKey, nativeCrypto)}`,
        '',
      ].join('\n'),
    )
    return 0
  } catch (e) {
    if (e instanceof UsageError || e instanceof ZixtError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`zixt keygen: ${(e as Error).message}\n${e instanceof UsageError ? '' : `\n${usage}`}`)
      return 2
    }
    process.stderr.write(`zixt keygen: ${(e as Error).message}\n`)
    return 1
  }
}
