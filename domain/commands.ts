// The command catalog: every command type, who may sign it and its JSON Schema.
import type { CommandSpec, SignerKind } from './command.ts'
import { adminCommandSpecs, type AdminCommand } from './admin/commands.ts'
import { deviceCommandSpecs, type DeviceCommand } from './device/commands.ts'
import { messageCommandSpecs, type MessageCommand } from './message/commands.ts'
import { mlsCommandSpecs, type MlsCommand } from './mls/commands.ts'
import { nodeCommandSpecs, type NodeCommand } from './node/commands.ts'
import { threadCommandSpecs, type ThreadCommand } from './thread/commands.ts'
import { userCommandSpecs, type UserCommand } from './user/commands.ts'
import {
  b64u, commandIdSchema, deviceIdSchema, literal, object, oneOfStrings, replicaAuthorSchema, type Schema,
  serviceKeyIdSchema, timeSchema, userIdSchema,
} from './schemas.ts'

export type DomainCommand = UserCommand | DeviceCommand | AdminCommand | ThreadCommand | MessageCommand | MlsCommand | NodeCommand
export type CommandType = DomainCommand['type']
export type CommandByType<T extends CommandType> = Extract<DomainCommand, { type: T }>

export const commandSpecs: { readonly [T in CommandType]: CommandSpec } = {
  ...userCommandSpecs,
  ...deviceCommandSpecs,
  ...adminCommandSpecs,
  ...threadCommandSpecs,
  ...messageCommandSpecs,
  ...mlsCommandSpecs,
  ...nodeCommandSpecs,
}

export const commandTypes: readonly CommandType[] = Object.keys(commandSpecs) as CommandType[]

export function isCommandType(type: unknown): type is CommandType {
  return typeof type === 'string' && Object.hasOwn(commandSpecs, type)
}

/** Commands a replica signs with its identity key: author = keyId = 'replica:<index>'. */
const REPLICA_COMMANDS: ReadonlySet<string> = new Set(['RotateReplicaKey'])

function authorSchemaFor(type: CommandType, signer: SignerKind): { author: Schema; keyId: Schema } {
  if (signer === 'service') return { author: serviceKeyIdSchema, keyId: serviceKeyIdSchema }
  if (REPLICA_COMMANDS.has(type)) return { author: replicaAuthorSchema, keyId: replicaAuthorSchema }
  if (signer === 'identity') return { author: userIdSchema, keyId: userIdSchema } // keyId = the user id
  return { author: userIdSchema, keyId: deviceIdSchema }
}

const envelopeSchemas = new Map<string, Schema>()

/**
 * The command fields around the payload for one type and signer kind (the payload is
 * checked on its own so errors read "payload.username: …").
 */
export function commandEnvelopeSchema(type: CommandType, signer: SignerKind): Schema {
  const key = `${type}/${signer}`
  let schema = envelopeSchemas.get(key)
  if (schema === undefined) {
    const { author, keyId } = authorSchemaFor(type, signer)
    schema = object({
      id: commandIdSchema,
      type: literal(type),
      author,
      signer: oneOfStrings(commandSpecs[type].signers),
      keyId,
      time: timeSchema,
      payload: { type: 'object' },
    })
    envelopeSchemas.set(key, schema)
  }
  return schema
}

/** First pass over anything that claims to be a signed command. */
export const signedCommandShapeSchema: Schema = object({
  command: {
    type: 'object',
    required: ['type', 'signer'],
    properties: { type: oneOfStrings(Object.keys(commandSpecs)), signer: oneOfStrings(['device', 'identity', 'service']) },
  },
  signature: b64u(1, 49856),
})

export const SIGNATURE_BYTES: { readonly [S in SignerKind]: number } = {
  device: 3309, // ML-DSA-65
  service: 3309, // ML-DSA-65
  identity: 49856, // SLH-DSA-SHAKE-256f
}
