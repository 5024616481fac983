// Runs `zixt keygen` as a user would (a child process through ops/zixt.js) and reopens the file.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nativeCrypto } from '../domain/crypto/native.ts'
import { nobleCrypto } from '../domain/crypto/noble.ts'
import { deviceIdFor, fingerprint, userIdFor } from '../domain/identity.ts'
import { openKeyFile } from '../domain/keyfile.ts'

const zixt = fileURLToPath(new URL('./zixt.js', import.meta.url))
const node = process.execPath
const passphrase = 'a long enough passphrase'

function keygen(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(node, [zixt, 'keygen', ...args], { encoding: 'utf8', env: { ...process.env, ZIXT_PASSPHRASE: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

function printed(stdout: string, label: string): string {
  return new RegExp(`^${label}:\\s+(.+)$`, 'm').exec(stdout)?.[1] ?? ''
}

t.test('writes an owner-only key file that reopens with the passphrase', async (t) => {
  const dir = t.testdir({ 'pass.txt': `${passphrase}\n` })
  const out = join(dir, 'keys.json')
  const r = keygen(['--out', out, '--passphrase-file', join(dir, 'pass.txt'), '--username', 'alice'])
  t.equal(r.status, 0, r.stderr)
  t.equal(statSync(out).mode & 0o777, 0o600, 'mode 0600')
  const keys = await openKeyFile(readFileSync(out, 'utf8'), passphrase, nativeCrypto)
  t.equal(keys.username, 'alice')
  t.equal(printed(r.stdout, 'user id'), userIdFor(keys.identity.publicKey, nativeCrypto))
  t.equal(printed(r.stdout, 'device id'), deviceIdFor(keys.device.publicKey, nativeCrypto))
  t.equal(printed(r.stdout, 'identity fingerprint'), fingerprint(keys.identity.publicKey, nativeCrypto))
  t.equal(printed(r.stdout, 'device fingerprint'), fingerprint(keys.device.publicKey, nativeCrypto))
  t.notOk(r.stdout.includes(passphrase) || r.stderr.includes(passphrase), 'the passphrase is never printed')
  const again = await openKeyFile(readFileSync(out, 'utf8'), passphrase, nobleCrypto)
  t.same(again.identity.publicKey, keys.identity.publicKey, 'the browser backend opens it too')
})

t.test('never overwrites without --force; --force replaces with new keys', async (t) => {
  const dir = t.testdir({ 'keys.json': 'precious' })
  const out = join(dir, 'keys.json')
  const refused = keygen(['--out', out], { ZIXT_PASSPHRASE: passphrase })
  t.equal(refused.status, 2)
  t.match(refused.stderr, /refusing to overwrite .*keys\.json \(use --force\)/)
  t.equal(readFileSync(out, 'utf8'), 'precious', 'untouched')
  const forced = keygen(['--out', out, '--force'], { ZIXT_PASSPHRASE: passphrase })
  t.equal(forced.status, 0, forced.stderr)
  t.equal(statSync(out).mode & 0o777, 0o600)
  const keys = await openKeyFile(readFileSync(out, 'utf8'), passphrase, nativeCrypto)
  t.equal(keys.username, null)
  t.equal(printed(forced.stdout, 'user id'), keys.userId)
})

t.test('refuses bad input with a message and exit status 2', async (t) => {
  const dir = t.testdir({ 'short.txt': 'short\n' })
  const out = join(dir, 'keys.json')
  const none = keygen(['--out', out])
  t.equal(none.status, 2)
  t.match(none.stderr, /no passphrase: use --passphrase-file FILE, set ZIXT_PASSPHRASE, or run on a terminal/)
  const short = keygen(['--out', out, '--passphrase-file', join(dir, 'short.txt')])
  t.equal(short.status, 2)
  t.match(short.stderr, /passphrase: expected at least 8 characters/)
  const badName = keygen(['--out', out, '--username', 'Not Valid!'], { ZIXT_PASSPHRASE: passphrase })
  t.equal(badName.status, 2)
  t.match(badName.stderr, /username/)
  const unknown = keygen(['--bogus'], { ZIXT_PASSPHRASE: passphrase })
  t.equal(unknown.status, 2)
  t.notOk(existsSync(out), 'nothing written')
})

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0
t.test('asks twice on a terminal without echoing', { skip: hasScript ? false : 'util-linux `script` (a pty) not available' }, async (t) => {
  const dir = t.testdir({})
  const out = join(dir, 'keys.json')
  const secret = 'typed on the terminal'
  const command = `'${node}' '${zixt}' keygen --out '${out}'`
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, ZIXT_PASSPHRASE: '' }, stdio: ['pipe', 'pipe', 'pipe'] })
  let screen = ''
  let answered = 0
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    screen += chunk
    const prompts = (screen.match(/Passphrase for the new key file: |Repeat the passphrase: /g) ?? []).length
    for (; answered < prompts; answered++) child.stdin.write(`${secret}\r`)
  })
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(status, 0, status === 0 ? 'exit status 0' : screen)
  t.equal(answered, 2, 'asked twice')
  t.notOk(screen.includes(secret), 'not echoed')
  const keys = await openKeyFile(readFileSync(out, 'utf8'), secret, nativeCrypto)
  t.equal(printed(screen.replaceAll('\r', ''), 'device id'), keys.deviceId)
})

t.test('--help prints usage', async (t) => {
  const r = keygen(['--help'])
  t.equal(r.status, 0)
  t.match(r.stdout, /usage: zixt keygen/)
})

