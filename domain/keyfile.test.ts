import t from 'tap'
import { nativeCrypto } from './crypto/native.ts'
import { nobleCrypto } from './crypto/noble.ts'
import { fromBase64url, toBase64url } from './encoding.ts'
import { CryptoError, ErrorCode } from './errors.ts'
import { fingerprint } from './identity.ts'
import { defaultKeyFileScrypt, keyFileToJson, newUserKeys, openKeyFile, parseKeyFile, sealKeyFile, type KeyFile } from './keyfile.ts'

const fast = { N: 2 ** 10, r: 8, p: 1 } // tests only; real files use defaultKeyFileScrypt
const createdAt = Date.UTC(2025, 0, 31, 12, 0, 0)
const passphrase = 'correct horse battery staple'
const keys = newUserKeys(nativeCrypto, 'alice')
const wrong = { code: ErrorCode.decryptFailed, message: 'wrong passphrase or corrupted key file' }

t.test('the documented JSON shape, no secret in the clear', async (t) => {
  const json = keyFileToJson(await sealKeyFile(keys, passphrase, nativeCrypto, { createdAt, scrypt: fast }))
  const file = JSON.parse(json) as KeyFile
  t.same(Object.keys(file).sort(), ['cipher', 'ciphertext', 'createdAt', 'fingerprints', 'format', 'kdf', 'publicKeys', 'username', 'version'])
  t.match(file, {
    format: 'zixt-keyfile',
    version: 1,
    kdf: { name: 'scrypt', N: 1024, r: 8, p: 1, salt: /^[A-Za-z0-9_-]{22}$/ },
    cipher: { name: 'AES-256-GCM', nonce: /^[A-Za-z0-9_-]{16}$/ },
    publicKeys: { identity: toBase64url(keys.identity.publicKey), device: toBase64url(keys.device.publicKey) },
    fingerprints: { identity: fingerprint(keys.identity.publicKey, nativeCrypto), device: fingerprint(keys.device.publicKey, nativeCrypto) },
    username: 'alice',
    createdAt: '2025-01-31T12:00:00.000Z',
  })
  t.notOk(json.includes(toBase64url(keys.device.secretKey)) || json.includes(toBase64url(keys.identity.secretKey.subarray(0, 48))), 'secret keys are not in the clear')
  t.ok(json.length < 4096, `${json.length} bytes`)
})

t.test('round trip in every backend combination', async (t) => {
  for (const sealer of [nativeCrypto, nobleCrypto]) {
    const json = keyFileToJson(await sealKeyFile(keys, passphrase, sealer, { createdAt, scrypt: fast }))
    for (const opener of [nativeCrypto, nobleCrypto]) {
      const opened = await openKeyFile(json, passphrase, opener)
      t.same(opened, keys, `sealed by ${sealer.backend}, opened by ${opener.backend}`)
    }
  }
})

t.test('a file with the default scrypt parameters opens in the browser backend', async (t) => {
  const file = await sealKeyFile({ ...keys, username: null }, passphrase, nativeCrypto, { createdAt })
  t.match(file.kdf, defaultKeyFileScrypt)
  const opened = await openKeyFile(keyFileToJson(file), passphrase, nobleCrypto)
  t.same(opened.device, keys.device)
  t.equal(opened.username, null)
  const signature = nativeCrypto.mlDsa65.sign(opened.device.secretKey, new Uint8Array([1]))
  t.ok(nativeCrypto.mlDsa65.verify(keys.device.publicKey, new Uint8Array([1]), signature), 'the opened key signs')
})

t.test('wrong passphrase, or any edited field, fails with one clear error', async (t) => {
  const file = await sealKeyFile(keys, passphrase, nativeCrypto, { createdAt, scrypt: fast })
  await t.rejects(openKeyFile(file, 'correct horse battery stapler', nativeCrypto), wrong)
  await t.rejects(openKeyFile(file, 'x', nobleCrypto), wrong)
  const err = await openKeyFile(file, 'nope nope nope', nativeCrypto).catch((e: unknown) => e)
  t.ok(err instanceof CryptoError)
  const otherKeys = newUserKeys(nativeCrypto)
  const sealed = fromBase64url(file.ciphertext)
  sealed[3]! ^= 1
  const edits: [string, KeyFile][] = [
    ['username', { ...file, username: 'mallory' }],
    ['username removed', { ...file, username: null }],
    ['createdAt', { ...file, createdAt: '2025-01-31T12:00:00.001Z' }],
    ['device public key', { ...file, publicKeys: { ...file.publicKeys, device: toBase64url(otherKeys.device.publicKey) } }],
    ['fingerprint', { ...file, fingerprints: { ...file.fingerprints, device: fingerprint(otherKeys.device.publicKey, nativeCrypto) } }],
    ['kdf.N', { ...file, kdf: { ...file.kdf, N: 2048 } }],
    ['kdf.salt', { ...file, kdf: { ...file.kdf, salt: toBase64url(new Uint8Array(16)) } }],
    ['nonce', { ...file, cipher: { ...file.cipher, nonce: toBase64url(new Uint8Array(12)) } }],
    ['ciphertext', { ...file, ciphertext: toBase64url(sealed) }],
  ]
  for (const [what, edited] of edits) await t.rejects(openKeyFile(keyFileToJson(edited), passphrase, nativeCrypto), wrong, what)
})

t.test('malformed files are refused before any scrypt work, naming the field', async (t) => {
  const file = await sealKeyFile(keys, passphrase, nativeCrypto, { createdAt, scrypt: fast })
  const schema = (field: string): { code: string; message: RegExp } => ({ code: ErrorCode.schema, message: new RegExp(`^keyFile\\.${field.replace('.', '\\.')}: expected`) })
  type Expected = { code: string; message?: RegExp }
  const cases: [string, unknown, Expected][] = [
    ['not JSON', '{"format":', { code: ErrorCode.schema, message: /not JSON/ }],
    ['other format', { ...file, format: 'pgp' }, schema('format')],
    ['array', [file], schema('format')],
    ['newer version', { ...file, version: 2 }, schema('version')],
    ['extra field', { ...file, secretKey: 'x' }, schema('secretKey')],
    ['missing field', { ...file, fingerprints: undefined }, schema('fingerprints')],
    ['N not a power of two', { ...file, kdf: { ...file.kdf, N: 1000 } }, schema('kdf.N')],
    ['scrypt memory bomb', { ...file, kdf: { ...file.kdf, N: 2 ** 22 } }, schema('kdf')],
    ['p too large', { ...file, kdf: { ...file.kdf, p: 1000 } }, schema('kdf.p')],
    ['other KDF', { ...file, kdf: { ...file.kdf, name: 'pbkdf2' } }, schema('kdf.name')],
    ['other cipher', { ...file, cipher: { ...file.cipher, name: 'AES-128-GCM' } }, schema('cipher.name')],
    ['padded nonce', { ...file, cipher: { ...file.cipher, nonce: `${file.cipher.nonce}==` } }, schema('cipher.nonce')],
    ['short salt', { ...file, kdf: { ...file.kdf, salt: toBase64url(new Uint8Array(8)) } }, schema('kdf.salt')],
    ['short public key', { ...file, publicKeys: { ...file.publicKeys, identity: toBase64url(new Uint8Array(32)) } }, schema('publicKeys.identity')],
    ['bad createdAt', { ...file, createdAt: 'yesterday' }, schema('createdAt')],
    ['huge', 'x'.repeat(70_000), { code: ErrorCode.limitExceeded }],
  ]
  for (const [what, input, expected] of cases) {
    const json = typeof input === 'string' ? input : JSON.stringify(input)
    t.throws(() => parseKeyFile(json), expected, what)
    await t.rejects(openKeyFile(json, passphrase, nativeCrypto), expected, `${what} (open)`)
  }
  t.same(parseKeyFile(keyFileToJson(file)), file, 'parse gives the clear-text part back unchanged')
})

t.test('sealing refuses weak passphrases and wrong-sized keys', async (t) => {
  await t.rejects(sealKeyFile(keys, 'short', nativeCrypto, { createdAt, scrypt: fast }), { code: ErrorCode.invalidArgument, message: /^passphrase: expected at least 8 characters/ })
  await t.rejects(sealKeyFile({ ...keys, device: keys.identity }, passphrase, nativeCrypto, { createdAt, scrypt: fast }), { code: ErrorCode.invalidLength, message: /^device\.publicKey:/ })
  await t.rejects(sealKeyFile(keys, passphrase, nativeCrypto, { createdAt, scrypt: { N: 2 ** 21, r: 8, p: 1 } }), { code: ErrorCode.schema, message: /^keyFile\.kdf/ })
})

t.test('the passphrase is compared after Unicode NFC normalization', async (t) => {
  const composed = 'pässwörd-ünïcode' // U+00E4 etc.
  const decomposed = composed.normalize('NFD')
  t.not(composed, decomposed)
  const file = await sealKeyFile(keys, composed, nativeCrypto, { createdAt, scrypt: fast })
  t.same((await openKeyFile(file, decomposed, nobleCrypto)).identity, keys.identity)
})
