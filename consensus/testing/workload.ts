// Real domain commands for the multi-process tests and the benchmark: users registered
// with their identity keys, e-mail verified by the service key, one thread, then messages
// signed by device keys. Test and benchmark support only.
import type { CryptoFacade } from '../../domain/crypto/types.ts'
import { commandBytes, createCommand, signCommand } from '../../domain/command.ts'
import { toBase64url } from '../../domain/encoding.ts'
import { deviceIdFor, signDeviceCertificate, userIdFor } from '../../domain/identity.ts'
import { emailHash } from '../../domain/user/decide.ts'

export type WorkloadUser = {
  readonly userId: string
  readonly deviceId: string
  readonly deviceSecretKey: Uint8Array
}

export type Workload = {
  /** Commands that must run first, in order (register, verify, create thread). */
  readonly setup: readonly Uint8Array[]
  readonly user: WorkloadUser
  readonly threadId: string
  /** A signed PostMessage with a fresh id. */
  message(text: string, time?: number): Uint8Array
}

export function makeWorkload(crypto: CryptoFacade, serviceKey: { keyId: string; secretKey: Uint8Array }, now = Date.now()): Workload {
  const identity = crypto.slhDsaShake256f.keygen()
  const device = crypto.mlDsa65.keygen()
  const userId = userIdFor(identity.publicKey, crypto)
  const deviceId = deviceIdFor(device.publicKey, crypto)
  const certificate = signDeviceCertificate({ userId, deviceId, devicePublicKey: device.publicKey, issuedAt: now, identitySecretKey: identity.secretKey }, crypto)
  const encryptedEmail = toBase64url(crypto.randomBytes(48))
  const username = `u${toBase64url(crypto.randomBytes(6)).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`
  const register = createCommand({
    type: 'RegisterUser', author: userId, signer: 'identity', keyId: userId,
    payload: { username, identityPublicKey: toBase64url(identity.publicKey), encryptedEmail, device: certificate },
  }, now, crypto)
  const verify = createCommand({
    type: 'VerifyEmail', author: serviceKey.keyId, signer: 'service', keyId: serviceKey.keyId,
    payload: { userId, encryptedEmailHash: emailHash(encryptedEmail, crypto) },
  }, now, crypto)
  const threadId = toBase64url(crypto.randomBytes(16))
  const create = createCommand({
    type: 'CreateThread', author: userId, signer: 'device', keyId: deviceId,
    payload: { threadId, groupId: toBase64url(crypto.randomBytes(32)), encryptedName: toBase64url(crypto.randomBytes(24)), members: [] },
  }, now, crypto)
  const setup = [
    commandBytes(signCommand(register, identity.secretKey, 'identity', crypto)),
    commandBytes(signCommand(verify, serviceKey.secretKey, 'service', crypto)),
    commandBytes(signCommand(create, device.secretKey, 'device', crypto)),
  ]
  return {
    setup,
    user: { userId, deviceId, deviceSecretKey: device.secretKey },
    threadId,
    message(text, time = Date.now()) {
      const cmd = createCommand({
        type: 'PostMessage', author: userId, signer: 'device', keyId: deviceId,
        payload: { threadId, epoch: 0, ciphertext: toBase64url(new TextEncoder().encode(text)), attachments: [] },
      }, time, crypto)
      return commandBytes(signCommand(cmd, device.secretKey, 'device', crypto))
    },
  }
}
