// First gate: shape and size. The JSON a client sent must be a signed command of the
// catalog (ajv schemas from domain/commands.ts via parseSignedCommand) and fit the ledger's
// byte budget once canonically encoded. Throws ZixtError with the domain's codes.
import { commandBytes, parseSignedCommand, type SignedDomainCommand } from '../domain/command.ts'

export type ValidCommand = { readonly signed: SignedDomainCommand; readonly bytes: Uint8Array }

export function validateCommand(input: unknown): ValidCommand {
  const signed = parseSignedCommand(input instanceof Uint8Array ? input : input)
  const bytes = commandBytes(signed)
  return { signed, bytes }
}
