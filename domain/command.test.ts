import t from 'tap'
import { commandBytes, createCommand, parseSignedCommand, signCommand, verifyCommandSignature } from './command.ts'
import { nobleCrypto } from './crypto/noble.ts'
import { ZixtError } from './errors.ts'
import { decode } from './ledger/codec.ts'
import { limits } from './limits.ts'
import { crypto, threadId, user, WHEN } from './testing/fixtures.ts'

const alice = user('alice')
const input = { type: 'HideThread' as const, author: alice.userId, signer: 'device' as const, keyId: alice.device.deviceId, payload: { threadId: threadId('t') } }

t.test('a browser-signed command verifies on the server, and back', async (t) => {
  const command = createCommand(input, WHEN, crypto)
  t.equal(command.id.length, 22, '16 random bytes')
  const inBrowser = signCommand(command, alice.device.keys.secretKey, 'device', nobleCrypto)
  t.ok(verifyCommandSignature(inBrowser, alice.device.keys.publicKey, crypto), 'noble → native')
  const onServer = signCommand(command, alice.device.keys.secretKey, 'device', crypto)
  t.ok(verifyCommandSignature(onServer, alice.device.keys.publicKey, nobleCrypto), 'native → noble')
  t.notOk(verifyCommandSignature({ ...onServer, command: { ...command, time: WHEN + 1 } }, alice.device.keys.publicKey, crypto), 'any change breaks it')
  t.notOk(verifyCommandSignature({ ...onServer, signature: onServer.signature.slice(4) }, alice.device.keys.publicKey, crypto), 'wrong length')
})

t.test('parseSignedCommand accepts canonical bytes and JSON alike', async (t) => {
  const signed = signCommand(createCommand(input, WHEN, crypto), alice.device.keys.secretKey, 'device', crypto)
  const bytes = commandBytes(signed)
  t.same(parseSignedCommand(bytes), signed)
  const json = JSON.parse(JSON.stringify(signed))
  t.same(parseSignedCommand(json), signed)
  t.same(commandBytes(parseSignedCommand(json)), bytes, 'JSON and bytes give the same ledger bytes')
  t.same(decode(bytes), signed)
})

t.test('parseSignedCommand errors name the field', async (t) => {
  const code = (f: () => unknown, c: string, m: RegExp) => {
    try {
      f()
      t.fail(`accepted; expected ${c}`)
    } catch (e) {
      t.ok(e instanceof ZixtError && e.code === c && m.test(e.message), `${c} ${m}: ${(e as Error).message}`)
    }
  }
  const signed = signCommand(createCommand(input, WHEN, crypto), alice.device.keys.secretKey, 'device', crypto)
  code(() => parseSignedCommand({ ...signed, command: { ...signed.command, signer: 'identity' } }), 'ZIXT_ERR_WRONG_SIGNER', /command\.signer/)
  code(() => parseSignedCommand({ ...signed, command: { ...signed.command, time: 1.5 } }), 'ZIXT_ERR_SCHEMA', /^command\.time: must be integer/)
  code(() => parseSignedCommand({ ...signed, command: { ...signed.command, payload: {} } }), 'ZIXT_ERR_SCHEMA', /^payload\.threadId: is required/)
  code(() => parseSignedCommand({ command: signed.command }), 'ZIXT_ERR_SCHEMA', /^signature: is required/)
  code(() => parseSignedCommand('nope'), 'ZIXT_ERR_SCHEMA', /must be object/)
  code(() => parseSignedCommand(new Uint8Array([0xff])), 'ZIXT_ERR_NON_CANONICAL', /command:/)
  code(() => parseSignedCommand(new Uint8Array(limits.commandBytesMax + 1)), 'ZIXT_ERR_COMMAND_TOO_LARGE', /exceeds/)
  // schema-valid (commit and welcome may each be up to 512 KiB) but over the command budget
  const half = 'A'.repeat(Math.ceil(limits.commandBytesMax / 2))
  const huge = { ...signed, command: { ...signed.command, type: 'SubmitMlsCommit', payload: { threadId: threadId('t'), epoch: 0, commit: half, welcome: half } } }
  code(() => parseSignedCommand(huge), 'ZIXT_ERR_COMMAND_TOO_LARGE', /exceeds/)
  code(() => parseSignedCommand({ ...signed, command: { ...signed.command, time: 1e300 } }), 'ZIXT_ERR_SCHEMA', /command/)
})
