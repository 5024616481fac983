// The path of a command into consensus: validate → authenticate → rate limit → dedup → bus.
// Returns the consensus outcome; throws ZixtError for anything refused before consensus.
import type { Redis } from 'ioredis'
import type { SignedDomainCommand } from '../domain/command.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { ErrorCode, ZixtError } from '../domain/errors.ts'
import { Rejection } from '../domain/rejections.ts'
import { checkClock, signingKey, verifyWith, type KeyDirectory, type KnownDevice } from './authenticate.ts'
import type { CommandBus, CommandResult } from './bus/types.ts'
import { claimCommandId, releaseCommandId } from './dedup.ts'
import { hitRates, type RateRule } from './rateLimit.ts'
import { validateCommand } from './validate.ts'

export type IngestDeps = {
  readonly bus: CommandBus
  readonly keys: KeyDirectory
  readonly redis: Redis
  readonly prefix: string
  readonly crypto: CryptoFacade
  readonly now: () => number
  readonly rates?: { readonly commands?: RateRule; readonly posts?: RateRule }
}

export type SubmitOptions = {
  /** Checks on the parsed command before any expensive work (the web: author = session). */
  readonly authorize?: (signed: SignedDomainCommand) => void | Promise<void>
  /** The session's device as the caller just read it: a command it signs needs no second look-up. */
  readonly sessionDevice?: KnownDevice & { readonly deviceId: string }
}

const POSTING: ReadonlySet<string> = new Set(['PostMessage', 'EditMessage', 'ReactToMessage'])

export type Ingest = {
  submit(input: unknown, options?: SubmitOptions): Promise<CommandResult & { readonly command: SignedDomainCommand }>
}

export function createIngest(d: IngestDeps): Ingest {
  const commandsRule = d.rates?.commands ?? { limit: 120, windowS: 10 }
  const postsRule = d.rates?.posts ?? { limit: 60, windowS: 10 }

  async function rateLimit(signed: SignedDomainCommand): Promise<void> {
    const who = signed.command.author
    const checks: [string, RateRule][] = [[`${d.prefix}rl:cmd:${who}`, commandsRule]]
    if (POSTING.has(signed.command.type)) checks.push([`${d.prefix}rl:post:${who}`, postsRule])
    const r = await hitRates(d.redis, checks) // both counters in one round trip
    if (!r.ok) throw new ZixtError('ZIXT_ERR_RATE_LIMITED', `too many commands; retry in ${r.retryAfterS} s`, { retryAfterS: r.retryAfterS })
  }

  function keysFor(known: SubmitOptions['sessionDevice']): KeyDirectory {
    if (known === undefined) return d.keys
    return { ...d.keys, device: (id) => (id === known.deviceId ? Promise.resolve(known) : d.keys.device(id)) }
  }

  return {
    async submit(input, options = {}) {
      const { signed, bytes } = validateCommand(input)
      await options.authorize?.(signed)
      // the key look-up (read model) runs beside the rate limit (Redis); the signature is
      // checked only once the rate limit passed, so a flood costs no verification
      const key = signingKey(signed, keysFor(options.sessionDevice), d.now())
      key.catch(() => {}) // a rate-limit refusal wins; this rejection is then not awaited
      await rateLimit(signed)
      checkClock(signed, d.now())
      verifyWith(signed, await key, d.crypto)
      const id = signed.command.id
      if (!(await claimCommandId(d.redis, d.prefix, id))) {
        throw new ZixtError(Rejection.duplicateCommand, `command.id: '${id}' was already submitted`, { field: 'command.id' })
      }
      let result: CommandResult
      try {
        result = await d.bus.send(bytes)
      } catch (e) {
        await releaseCommandId(d.redis, d.prefix, id)
        if (e instanceof ZixtError) throw e
        throw new ZixtError(ErrorCode.unavailable, `consensus: ${(e as Error).message}`)
      }
      return { ...result, command: signed }
    },
  }
}
