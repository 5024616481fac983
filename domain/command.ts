// A command as the ledger records it: built and signed by a client, verified by every
// replica. Signature = Sign(secretKey, encode(command), context 'zixt/command/v1'), with
// ML-DSA-65 for 'device' and 'service' signers and SLH-DSA-SHAKE-256f for 'identity'.
// The same code runs in the browser (web/client) and on the server (ingest, replicas).
import { assert } from './assert.ts'
import type { CommandByType, CommandType, DomainCommand } from './commands.ts'
import { commandEnvelopeSchema, commandSpecs, SIGNATURE_BYTES, signedCommandShapeSchema } from './commands.ts'
import type { CryptoFacade, Signer } from './crypto/types.ts'
import { fromBase64url, toBase64url, utf8Encode } from './encoding.ts'
import { CodecError, ErrorCode, ZixtError } from './errors.ts'
import { decode, encode, type Value } from './ledger/codec.ts'
import { type Command, COMMAND_SIGNATURE_CONTEXT, type SignedCommand } from './ledger/envelope.ts'
import { limits } from './limits.ts'
import { Rejection } from './rejections.ts'
import { type Schema, validate } from './schemas.ts'

export type SignerKind = Command['signer']

/** One command type: its payload shape is P, its discriminant T. */
export type CommandOf<T extends string, P> = {
  readonly id: string
  readonly type: T
  readonly author: string
  readonly signer: SignerKind
  readonly keyId: string
  readonly time: number
  readonly payload: P
}

/** Catalog entry: who may sign it and what its payload looks like. */
export type CommandSpec = {
  readonly signers: readonly SignerKind[]
  readonly summary: string
  readonly payload: Schema
}

/** A signed command whose shape passed the catalog's schemas. */
export type SignedDomainCommand<C extends DomainCommand = DomainCommand> = { readonly command: C; readonly signature: string }

export type { Command, SignedCommand }

const CONTEXT = utf8Encode(COMMAND_SIGNATURE_CONTEXT)

export function signerAlgorithm(kind: SignerKind, crypto: CryptoFacade): Signer {
  return kind === 'identity' ? crypto.slhDsaShake256f : crypto.mlDsa65
}

/** The bytes a command signature covers. */
export function commandSigningBytes(command: Command | DomainCommand): Uint8Array {
  return encode(command as unknown as Value)
}

/** Canonical ledger bytes of a signed command: encode({ command, signature }). */
export function commandBytes(signed: SignedCommand | SignedDomainCommand): Uint8Array {
  return encode(signed as unknown as Value)
}

/** Fields a client fills in; id and time come from its randomness and clock. */
export type CommandInput<T extends CommandType> = {
  readonly type: T
  readonly author: string
  readonly signer: SignerKind
  readonly keyId: string
  readonly payload: CommandByType<T>['payload']
}

/** A new command with a fresh random id (16 bytes); `time` is the client's clock. */
export function createCommand<T extends CommandType>(input: CommandInput<T>, time: number, crypto: CryptoFacade): CommandByType<T> {
  return { id: toBase64url(crypto.randomBytes(limits.commandIdBytes)), time, ...input } as unknown as CommandByType<T>
}

/**
 * Signs `command` with the key of kind `signerKind` (which must be command.signer):
 * an ML-DSA-65 seed for 'device'/'service', the SLH-DSA secret key for 'identity'.
 */
export function signCommand<C extends Command | DomainCommand>(
  command: C,
  secretKey: Uint8Array,
  signerKind: SignerKind,
  crypto: CryptoFacade,
): { readonly command: C; readonly signature: string } {
  assert(command.signer === signerKind, `command.signer '${command.signer}' is not '${signerKind}'`)
  const signature = signerAlgorithm(signerKind, crypto).sign(secretKey, commandSigningBytes(command), CONTEXT)
  return { command, signature: toBase64url(signature) }
}

/** True when the signature is the right size for the signer kind and verifies under publicKey. */
export function verifyCommandSignature(signed: SignedCommand | SignedDomainCommand, publicKey: Uint8Array, crypto: CryptoFacade): boolean {
  const kind = signed.command.signer
  let signature: Uint8Array
  try {
    signature = fromBase64url(signed.signature, 'signature')
  } catch {
    return false
  }
  if (signature.length !== SIGNATURE_BYTES[kind]) return false
  const algorithm = signerAlgorithm(kind, crypto)
  if (publicKey.length !== algorithm.publicKeyBytes) return false
  return algorithm.verify(publicKey, commandSigningBytes(signed.command), signature, CONTEXT)
}

/**
 * Parses canonical bytes (or an already-decoded JSON value, e.g. an HTTP body) into a
 * signed command that matches the catalog: known type, allowed signer kind, envelope and
 * payload schemas. Throws ZixtError with a stable code whose message names the field
 * (ZIXT_ERR_COMMAND_TOO_LARGE, ZIXT_ERR_NON_CANONICAL, ZIXT_ERR_SCHEMA, ZIXT_ERR_WRONG_SIGNER).
 * It does not verify the signature: that needs the ledger state (which key is current).
 */
export function parseSignedCommand(input: Uint8Array | unknown): SignedDomainCommand {
  if (input instanceof Uint8Array) {
    if (input.length > limits.commandBytesMax) {
      throw new ZixtError(Rejection.tooLarge, `command: ${input.length} bytes exceeds ${limits.commandBytesMax}`, { field: 'command' })
    }
    let value: Value
    try {
      value = decode(input)
    } catch (e) {
      if (e instanceof CodecError) throw new ZixtError(Rejection.nonCanonical, `command: ${e.message}`, { field: 'command' })
      throw e
    }
    return checkCatalog(value)
  }
  // a JSON body (e.g. HTTP): the schemas first, then the same byte budget once encoded
  const signed = checkCatalog(input)
  let size: number
  try {
    size = commandBytes(signed).length
  } catch (e) {
    if (e instanceof CodecError) throw new ZixtError(ErrorCode.schema, `command: ${e.message}`, { field: 'command' })
    throw e
  }
  if (size > limits.commandBytesMax) {
    throw new ZixtError(Rejection.tooLarge, `command: ${size} bytes exceeds ${limits.commandBytesMax}`, { field: 'command' })
  }
  return signed
}

function checkCatalog(value: unknown): SignedDomainCommand {
  validate(signedCommandShapeSchema, value)
  const { command } = value as { command: { type: CommandType; signer: SignerKind; payload: unknown } }
  const spec = commandSpecs[command.type]
  if (!spec.signers.includes(command.signer)) {
    throw new ZixtError(
      Rejection.wrongSigner,
      `command.signer: ${command.type} must be signed by ${spec.signers.map((s) => `'${s}'`).join(' or ')}, not '${command.signer}'`,
      { field: 'command.signer' },
    )
  }
  validate(commandEnvelopeSchema(command.type, command.signer), command, 'command')
  validate(spec.payload, command.payload, 'payload')
  return value as SignedDomainCommand
}
