// The operations that take seconds in pure JS: SLH-DSA-SHAKE-256f keygen/signing (~2.5 s a
// signature) and scrypt N = 2^17 (sealing/opening the key file). In the browser they run in a
// Web Worker (worker.ts) so the page never freezes; in Node they run directly.
import type { CommandType, CommandByType } from '../../../domain/commands.ts'
import type { CryptoFacade } from '../../../domain/crypto/types.ts'
import { signDeviceCertificate } from '../../../domain/identity.ts'
import { openKeyFile, sealKeyFile, type KeyFile, type KeyFileKeys } from '../../../domain/keyfile.ts'
import { buildCommand, buildRegisterUser, newAccountKeys, type SignedCommandJson } from './api/commands.ts'

export type SlowOps = {
  /** New identity + device keys, RegisterUser signed, key file sealed under the password. */
  newAccount(input: { username: string; encryptedEmail: string; password: string; now: number }): Promise<{ keys: KeyFileKeys; command: SignedCommandJson<'RegisterUser'>; keyFile: KeyFile }>
  sealKeyFile(input: { keys: KeyFileKeys; password: string; now: number }): Promise<KeyFile>
  openKeyFile(input: { keyFile: KeyFile; password: string }): Promise<KeyFileKeys>
  /** An identity-signed command (AddDevice, RotateDeviceKey, RevokeDevice …). */
  signIdentity<T extends CommandType>(input: { type: T; payload: CommandByType<T>['payload']; keys: KeyFileKeys; now: number }): Promise<SignedCommandJson<T>>
  /** A rotated device key: fresh ML-DSA-65 pair plus its certificate from the identity key. */
  rotateDeviceKey(input: { keys: KeyFileKeys; now: number }): Promise<{ keys: KeyFileKeys; command: SignedCommandJson<'RotateDeviceKey'> }>
}

export function directSlowOps(crypto: CryptoFacade, scrypt?: { N: number; r: number; p: number }): SlowOps {
  const sealParams = (now: number) => (scrypt === undefined ? { createdAt: now } : { createdAt: now, scrypt })
  return {
    async newAccount({ username, encryptedEmail, password, now }) {
      const keys = newAccountKeys(crypto, username)
      const command = buildRegisterUser({ keys, username, encryptedEmail, now, crypto })
      const keyFile = await sealKeyFile(keys, password, crypto, sealParams(now))
      return { keys, command, keyFile }
    },
    sealKeyFile: ({ keys, password, now }) => sealKeyFile(keys, password, crypto, sealParams(now)),
    openKeyFile: ({ keyFile, password }) => openKeyFile(keyFile, password, crypto),
    async signIdentity({ type, payload, keys, now }) {
      return buildCommand(type, payload, keys, now, crypto, { signer: 'identity' })
    },
    async rotateDeviceKey({ keys, now }) {
      const device = crypto.mlDsa65.keygen()
      const cert = signDeviceCertificate(
        { userId: keys.userId, deviceId: keys.deviceId, devicePublicKey: device.publicKey, issuedAt: now, identitySecretKey: keys.identity.secretKey },
        crypto,
      )
      const command = buildCommand('RotateDeviceKey', { deviceId: keys.deviceId, publicKey: cert.publicKey, issuedAt: cert.issuedAt, certificate: cert.certificate }, keys, now, crypto)
      return { keys: { ...keys, device }, command }
    },
  }
}
