// Building and signing commands on the client (browser and Node): the user's own keys
// sign everything; the server never signs for a user. Also the login challenge signature.
import { createCommand, signCommand, type SignerKind } from '../../../../domain/command.ts'
import type { CommandByType, CommandType } from '../../../../domain/commands.ts'
import type { CryptoFacade } from '../../../../domain/crypto/types.ts'
import { toBase64url, utf8Encode } from '../../../../domain/encoding.ts'
import { signDeviceCertificate } from '../../../../domain/identity.ts'
import { newUserKeys, type KeyFileKeys } from '../../../../domain/keyfile.ts'
import { encode } from '../../../../domain/ledger/codec.ts'

export type SignedCommandJson<T extends CommandType = CommandType> = { readonly command: CommandByType<T>; readonly signature: string }

/** Commands only the identity key may sign (RevokeDevice may be either: pass signer). */
const IDENTITY_ONLY: ReadonlySet<string> = new Set(['RegisterUser', 'AddDevice', 'RotateDeviceKey', 'RotateIdentityKey', 'DeleteAccount'])

export const LOGIN_CONTEXT = 'zixt/login/v1'

/** Fresh identity (SLH-DSA-SHAKE-256f) and device (ML-DSA-65) keys; the same shape as a key file's contents. */
export function newAccountKeys(crypto: CryptoFacade, username: string | null = null): KeyFileKeys {
  return newUserKeys(crypto, username)
}

/**
 * A signed command of `type` by the account in `keys`: device-signed (author = user id,
 * keyId = device id) unless the type is identity-only or `signer: 'identity'` is given.
 */
export function buildCommand<T extends CommandType>(
  type: T,
  payload: CommandByType<T>['payload'],
  keys: Pick<KeyFileKeys, 'identity' | 'device' | 'userId' | 'deviceId'>,
  now: number,
  crypto: CryptoFacade,
  options: { signer?: SignerKind } = {},
): SignedCommandJson<T> {
  const signer: SignerKind = options.signer ?? (IDENTITY_ONLY.has(type) ? 'identity' : 'device')
  const keyId = signer === 'identity' ? keys.userId : keys.deviceId
  const command = createCommand({ type, author: keys.userId, signer, keyId, payload }, now, crypto)
  const secret = signer === 'identity' ? keys.identity.secretKey : keys.device.secretKey
  return signCommand(command, secret, signer, crypto) as SignedCommandJson<T>
}

/** RegisterUser with a device certificate for `keys.device`, signed by the identity key (~0.2 s native, seconds in JS). */
export function buildRegisterUser(input: {
  keys: KeyFileKeys
  username: string
  encryptedEmail: string
  now: number
  crypto: CryptoFacade
}): SignedCommandJson<'RegisterUser'> {
  const { keys, crypto, now } = input
  const device = signDeviceCertificate(
    { userId: keys.userId, deviceId: keys.deviceId, devicePublicKey: keys.device.publicKey, issuedAt: now, identitySecretKey: keys.identity.secretKey },
    crypto,
  )
  const payload = { username: input.username, identityPublicKey: toBase64url(keys.identity.publicKey), encryptedEmail: input.encryptedEmail, device }
  return buildCommand('RegisterUser', payload, keys, now, crypto)
}

export type LoginChallengeInput = { readonly challenge: string; readonly username: string; readonly userId: string; readonly deviceId: string }

/** The bytes a device signs to log in: canonical encode({ challenge, deviceId, userId, username }). */
export function loginChallengeBytes(input: LoginChallengeInput): Uint8Array {
  return encode({ challenge: input.challenge, deviceId: input.deviceId, userId: input.userId, username: input.username })
}

/** ML-DSA-65 signature (base64url) of the device over the login challenge, context 'zixt/login/v1'. */
export function signLoginChallenge(input: LoginChallengeInput, deviceSecretKey: Uint8Array, crypto: CryptoFacade): string {
  return toBase64url(crypto.mlDsa65.sign(deviceSecretKey, loginChallengeBytes(input), utf8Encode(LOGIN_CONTEXT)))
}

/** Fresh random id of `bytes` bytes, base64url (thread ids: 16, MLS group ids: 32). */
export function randomId(crypto: CryptoFacade, bytes = 16): string {
  return toBase64url(crypto.randomBytes(bytes))
}
