// Key packages (RFC 9420 §10): generated on the device, published and claimed
// through the ledger, consumed by a Welcome. A last-resort package
// (draft-ietf-mls-extensions "last_resort", extension type 0x000A) may be handed out
// more than once when a device has run out of ordinary ones; the ledger decides.
import {
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type Capabilities,
  type Extension,
  type KeyPackage,
} from 'ts-mls'
import { makeKeyPackageRef, verifyKeyPackage } from 'ts-mls/keyPackage.js'
import { limits } from '../../../../domain/limits.ts'
import { MlsErrorCode, mlsError, wrapMls } from './errors.ts'
import { contentOfCredential, type MemberIdentity, type MlsKeyCertificate } from './identity.ts'
import { memberCredential, type HeldKeyPackage, type Member } from './member.ts'
import { MLS_SUITE_NAME, mlsSuite } from './suite.ts'

export const LAST_RESORT_EXTENSION_TYPE = 0x000a

export type PublishedKeyPackage = {
  readonly bytes: Uint8Array // MLSMessage { mls_key_package }, what goes into PublishKeyPackages
  readonly ref: Uint8Array // KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage)
  readonly lastResort: boolean
}

export function zixtCapabilities(): Capabilities {
  const caps = defaultCapabilities()
  return { ...caps, extensions: [...caps.extensions, LAST_RESORT_EXTENSION_TYPE] }
}

function isLastResort(kp: KeyPackage): boolean {
  return kp.extensions.some((e: Extension) => e.extensionType === LAST_RESORT_EXTENSION_TYPE)
}

export type GenerateKeyPackagesResult = { readonly member: Member; readonly packages: readonly PublishedKeyPackage[] }

/** `count` fresh key packages; the member keeps their private halves. */
export async function generateKeyPackages(
  member: Member,
  count: number,
  options: { readonly lastResort?: boolean } = {},
): Promise<GenerateKeyPackagesResult> {
  if (!Number.isSafeInteger(count) || count < 1 || count > limits.keyPackagesPerPublishMax) {
    throw mlsError(MlsErrorCode.tooLarge, `count ${count} is outside 1..${limits.keyPackagesPerPublishMax}`)
  }
  const cs = await mlsSuite()
  const lastResort = options.lastResort === true
  const extensions: Extension[] = lastResort ? [{ extensionType: LAST_RESORT_EXTENSION_TYPE, extensionData: new Uint8Array(0) }] : []
  const held: HeldKeyPackage[] = []
  const packages: PublishedKeyPackage[] = []
  for (let i = 0; i < count; i++) {
    const kp = await generateKeyPackageWithKey(memberCredential(member), zixtCapabilities(), defaultLifetime, extensions, member.signatureKeys, cs)
    const ref = await makeKeyPackageRef(kp.publicPackage, cs.hash)
    const bytes = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: kp.publicPackage })
    if (bytes.length > limits.keyPackageBytesMax) {
      throw mlsError(MlsErrorCode.tooLarge, `key package of ${bytes.length} bytes exceeds ${limits.keyPackageBytesMax}`)
    }
    held.push({ ref, publicPackage: kp.publicPackage, privatePackage: kp.privatePackage, lastResort })
    packages.push({ bytes, ref, lastResort })
  }
  return { member: { ...member, keyPackages: [...member.keyPackages, ...held] }, packages }
}

export type ParsedKeyPackage = {
  readonly keyPackage: KeyPackage
  readonly ref: Uint8Array
  readonly identity: MemberIdentity
  readonly certificate: MlsKeyCertificate | undefined
  readonly signaturePublicKey: Uint8Array
  readonly lastResort: boolean
}

/**
 * Decodes and checks a published key package: MLSMessage wrapper, no trailing bytes,
 * Zixt's suite, a basic credential with a valid Zixt identity, a valid signature
 * (RFC 9420 §10.1). Done before adding someone, so a bad package fails early.
 */
export async function parseKeyPackage(bytes: Uint8Array): Promise<ParsedKeyPackage> {
  if (bytes.length > limits.keyPackageBytesMax) {
    throw mlsError(MlsErrorCode.tooLarge, `key package of ${bytes.length} bytes exceeds ${limits.keyPackageBytesMax}`)
  }
  const decoded = await wrapMls(MlsErrorCode.malformed, 'key package', async () => decodeMlsMessage(bytes, 0))
  if (decoded === undefined || decoded[1] !== bytes.length) throw mlsError(MlsErrorCode.malformed, 'key package does not decode to exactly one MLSMessage')
  const msg = decoded[0]
  if (msg.wireformat !== 'mls_key_package') throw mlsError(MlsErrorCode.malformed, `wireformat ${msg.wireformat} is not mls_key_package`)
  const kp = msg.keyPackage
  if (msg.version !== 'mls10' || kp.version !== 'mls10') throw mlsError(MlsErrorCode.unsupported, 'key package version is not mls10')
  if (kp.cipherSuite !== MLS_SUITE_NAME) throw mlsError(MlsErrorCode.unsupported, `key package suite ${kp.cipherSuite} is not ${MLS_SUITE_NAME}`)
  const { identity, certificate } = contentOfCredential(kp.leafNode.credential)
  const cs = await mlsSuite()
  if (!(await wrapMls(MlsErrorCode.rejected, 'key package signature', () => verifyKeyPackage(kp, cs.signature)))) {
    throw mlsError(MlsErrorCode.rejected, 'key package signature is invalid')
  }
  const ref = await makeKeyPackageRef(kp, cs.hash)
  return { keyPackage: kp, ref, identity, certificate, signaturePublicKey: kp.leafNode.signaturePublicKey, lastResort: isLastResort(kp) }
}
