// The path of a command into consensus: validate → authenticate → rate limit → dedup → bus.
// Returns the consensus outcome; throws ZixtError for anything refused before consensus.
import type { Redis } from 'ioredis'
import type { SignedDomainCommand } from '../domain/command.ts'
import type { CryptoFacade } from '../domain/crypto/types.ts'
import { ErrorCode, ZixtError } from '../domain/errors.ts'
import { Rejection } from '../domain/rejections.ts'
import { checkClock, signingKey, verifyWith, type KeyDirectory, type KnownDevice } from './authenticate.ts'
import type { CommandBus, CommandResult } from './bus/types.ts'
import { queueClaim, releaseCommandId } from './dedup.ts'
import { queueRates, rateOutcome, type RateRule } from './rateLimit.ts'
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

  /**
   * The rate counters and the claim of the command id in one MULTI (one round trip). The claim
   * counts only once the rest passed: the caller releases it when the rate limit or a later
   * check refuses the command, so a refused command's id stays free for its retry.
   */
  async function rateAndClaim(signed: SignedDomainCommand): Promise<{ readonly rateError: ZixtError | null; readonly claimed: boolean }> {
    const who = signed.command.author
    const checks: [string, RateRule][] = [[`${d.prefix}rl:cmd:${who}`, commandsRule]]
    if (POSTING.has(signed.command.type)) checks.push([`${d.prefix}rl:post:${who}`, postsRule])
    const m = d.redis.multi()
    queueRates(m, checks)
    queueClaim(m, d.prefix, signed.command.id)
    const replies = (await m.exec()) ?? []
    const r = rateOutcome(replies, checks)
    const claimed = replies[3 * checks.length]?.[1] === 'OK'
    return { rateError: r.ok ? null : new ZixtError('ZIXT_ERR_RATE_LIMITED', `too many commands; retry in ${r.retryAfterS} s`, { retryAfterS: r.retryAfterS }), claimed }
  }

  function keysFor(known: SubmitOptions['sessionDevice']): KeyDirectory {
    if (known === undefined) return d.keys
    return { ...d.keys, device: (id) => (id === known.deviceId ? Promise.resolve(known) : d.keys.device(id)) }
  }

  return {
    async submit(input, options = {}) {
      const { signed, bytes } = validateCommand(input)
      await options.authorize?.(signed)
      // the key look-up (read model) runs beside the rate limit and the id claim (Redis); the
      // signature is checked only once the rate limit passed, so a flood costs no verification
      const key = signingKey(signed, keysFor(options.sessionDevice), d.now())
      key.catch(() => {}) // a rate-limit refusal wins; this rejection is then not awaited
      const id = signed.command.id
      const { rateError, claimed } = await rateAndClaim(signed)
      try {
        if (rateError !== null) throw rateError
        checkClock(signed, d.now())
        verifyWith(signed, await key, d.crypto)
      } catch (e) {
        if (claimed) await releaseCommandId(d.redis, d.prefix, id)
        throw e
      }
      if (!claimed) throw new ZixtError(Rejection.duplicateCommand, `command.id: '${id}' was already submitted`, { field: 'command.id' })
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
