// The bench's side of the e2e and soak runs: the whole system (startSystem: 4 replica
// processes, projections, ingest and web in this process) with the relay bus available,
// light stage timestamps, the load generator child process and the /proc sampler.
//
// Stage timestamps, without touching web/ or projections/:
//   entered    — the web calls ingest.submit (HTTP parsed, session checked; wrapped here)
//   submitted  — ingest hands the command to the bus (bus.send wrapped here)
//   committed  — the bus resolves: f+1 matching replies (ledger) / published (relay)
//   published  — this process's own Redis subscriber sees the thread notification
//   received   — the load generator's ws receives the event
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { nativeCrypto as crypto } from '../../../domain/crypto/native.ts'
import { toBase64url } from '../../../domain/encoding.ts'
import type { RelayBus } from '../../../ingest/bus/relay.ts'
import type { CommandResult } from '../../../ingest/bus/types.ts'
import { ApiClient } from '../../../web/client/core/api/client.ts'
import { dropDatabase } from '../../../projections/db.ts'
import { heapSpacesMB, trackLiveHeap } from '../../memory.ts'
import { startSystem, type RunningSystem } from '../../start.ts'
import { pidsNamed, ProcSampler, type HeapReading } from './procstat.ts'
import type { FromLoadgen, ToLoadgen } from './protocol.ts'

export const now = (): number => performance.timeOrigin + performance.now()

export type StageTimes = { submitted: number; committed: number; entered?: number }

export type Loadgen = {
  readonly child: ChildProcess
  call<T extends FromLoadgen['type']>(m: ToLoadgen, want: T, timeoutMs?: number): Promise<Extract<FromLoadgen, { type: T }>>
  readonly hello: Promise<unknown>
}

export type Harness = {
  readonly sys: RunningSystem
  readonly relay: RelayBus
  readonly lg: Loadgen
  readonly sampler: ProcSampler
  readonly stages: Map<number, StageTimes> // by position
  readonly published: Map<number, number> // by position
  readonly lookups: number[] // ms per read-model user/device look-up (session and key checks: the MySQL pool)
  readonly tag: string
  stop(): Promise<void>
}

function startLoadgen(log: (l: string) => void): Loadgen {
  const child = fork(fileURLToPath(new URL('./loadgen.ts', import.meta.url)), [], { execPath: process.execPath, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiters: { want: string; resolve: (m: FromLoadgen) => void; reject: (e: Error) => void }[] = []
  const hello = new Promise((resolve, reject) => waiters.push({ want: 'hello', resolve, reject }))
  child.on('message', (raw) => {
    const m = raw as FromLoadgen
    if (m.type === 'log') return log(`  loadgen: ${m.line}`)
    if (m.type === 'error') {
      const w = waiters.shift()
      if (w !== undefined) w.reject(new Error(`loadgen: ${m.message}`))
      else log(`loadgen error: ${m.message}`)
      return
    }
    const i = waiters.findIndex((w) => w.want === m.type)
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m)
  })
  child.on('exit', (code) => { for (const w of waiters.splice(0)) w.reject(new Error(`loadgen exited (${code})`)) })
  return {
    child,
    hello,
    call(m, want, timeoutMs = 30 * 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`loadgen: no ${want} in ${timeoutMs} ms`)), timeoutMs)
        waiters.push({ want, resolve: (x) => { clearTimeout(timer); resolve(x as never) }, reject: (e) => { clearTimeout(timer); reject(e) } })
        child.send(m)
      })
    },
  }
}

export async function startHarness(o: { log: (l: string) => void; sampleMs?: number; proposeIntervalMs?: number }): Promise<Harness> {
  const tag = `b${toBase64url(crypto.randomBytes(4)).replace(/[^a-zA-Z0-9]/g, 'x').toLowerCase()}`
  const dbName = `zixt_bench_${tag}`
  const mysqlUrl = `mysql://root@127.0.0.1:3306/${dbName}`
  const prefix = `${dbName}:`
  const dataDir = mkdtempSync(join(tmpdir(), 'zixt-bench-e2e-'))
  const open = 1_000_000_000
  const sys = await startSystem({
    dataDir, mysqlUrl, redisPrefix: prefix, port: 0, bus: 'relay',
    ...(o.proposeIntervalMs === undefined ? {} : { replica: { proposeIntervalMs: o.proposeIntervalMs } }),
    log: (l) => { if (!/verify\?token/.test(l)) o.log(`system: ${l}`) },
    mailer: {
      // users verify at once: follow the link in the mail (the click a person would make)
      send: async (m) => {
        const link = /(https?:\/\/\S+\/api\/email\/verify\?token=[A-Za-z0-9_-]+)/.exec(m.text)
        if (link === null) return
        void (async () => {
          const token = new URL(link[1]!).searchParams.get('token')!
          for (let i = 0; i < 50; i++) {
            await new Promise((r) => setTimeout(r, 100)) // the token is stored after the mail went out
            try {
              await new ApiClient({ baseUrl: new URL(link[1]!).origin, cookieJar: true }).verifyEmail(token)
              return
            } catch (e) {
              if (i === 49) o.log(`could not verify ${m.to}: ${(e as Error).message}`)
            }
          }
        })()
      },
      close() {},
    },
    config: {
      passwordCost: { N: 2 ** 12, r: 8, p: 1 },
      rates: { login: { limit: open, windowS: 60 }, register: { limit: open, windowS: 60 }, resend: { limit: open, windowS: 60 }, upload: { limit: open, windowS: 60 } },
    },
    // the bench's users post far above a person's rate: the per-user limits would refuse them
    rates: { commands: { limit: open, windowS: 10 }, posts: { limit: open, windowS: 10 } },
  })
  const relay = sys.bus as RelayBus
  relay.relaying = false
  const stages = new Map<number, StageTimes>()
  const inner = relay.send.bind(relay)
  relay.send = async (bytes: Uint8Array): Promise<CommandResult> => {
    const submitted = now()
    const r = await inner(bytes)
    const committed = now()
    if (r.kind === 'committed') for (const e of r.events) if (e.type === 'MessagePosted') stages.set(e.position, { submitted, committed })
    return r
  }
  // the web holds the same ingest object: wrapping its submit times HTTP → ingest apart from the checks
  const ingest = sys.ingest as { submit: RunningSystem['ingest']['submit'] }
  const submitInner = ingest.submit.bind(ingest)
  ingest.submit = async (input, options) => {
    const entered = now()
    const r = await submitInner(input, options)
    if (r.kind === 'committed') for (const e of r.events) { const s = stages.get(e.position); if (s !== undefined) s.entered = entered }
    return r
  }
  const lookups: number[] = []
  const read = sys.read as unknown as Record<'userById' | 'device', (id: string) => Promise<unknown>>
  for (const name of ['userById', 'device'] as const) {
    const inner2 = read[name].bind(read)
    read[name] = async (id) => {
      const t = now()
      try { return await inner2(id) } finally { if (lookups.length < 1_000_000) lookups.push(now() - t) }
    }
  }
  const published = new Map<number, number>()
  const sub = new Redis('redis://127.0.0.1:6379')
  await sub.psubscribe(`${prefix}thread:*`)
  sub.on('pmessage', (_p: string, _ch: string, msg: string) => {
    const at = now()
    const m = /^\{"v":1,"kind":"event","position":(\d+),"type":"MessagePosted"/.exec(msg)
    if (m !== null && !published.has(Number(m[1]))) published.set(Number(m[1]), at)
  })
  const lg = startLoadgen(o.log)
  await lg.hello
  const dbPids = { mariadbd: pidsNamed('mariadbd')[0], 'redis-server': pidsNamed('redis-server')[0] }
  const ownLive = trackLiveHeap() // this process's; the replicas report theirs
  const sampler = new ProcSampler(() => ({
    'web+ingest+projections': process.pid,
    loadgen: lg.child.pid,
    'replica 0': sys.cluster.pid(0), 'replica 1': sys.cluster.pid(1), 'replica 2': sys.cluster.pid(2), 'replica 3': sys.cluster.pid(3),
    ...dbPids,
  }), {
    heaps: () => {
      const mine = process.memoryUsage()
      const detail = Object.fromEntries(Object.entries(heapSpacesMB()).map(([k, v]) => [`${k}MB`, v]))
      const out: Record<string, HeapReading | undefined> = { 'web+ingest+projections': { usedMb: mine.heapUsed / 2 ** 20, totalMb: mine.heapTotal / 2 ** 20, externalMb: mine.external / 2 ** 20, liveMb: ownLive.mb, detail } }
      for (let i = 0; i < 4; i++) {
        const st = sys.cluster.stats(i) // reported each second by the replica (a killed one's last report is skipped with its pid)
        const m = st?.memory
        // V8's spaces and the replica's own collections, to tell which one grew
        const detail = { ...Object.fromEntries(Object.entries(m?.spacesMB ?? {}).map(([k, v]) => [`${k}MB`, v])), ...st?.sizes }
        if (m !== undefined) out[`replica ${i}`] = { usedMb: m.heapMB, totalMb: m.heapTotalMB, externalMb: m.externalMB, liveMb: m.liveMB ?? null, detail }
      }
      return out
    },
  })
  sampler.start(o.sampleMs ?? 1000)
  return {
    sys, relay, lg, sampler, stages, published, lookups, tag,
    async stop() {
      sampler.stop()
      ownLive.stop()
      lg.child.send({ type: 'exit' } satisfies ToLoadgen)
      await new Promise((r) => setTimeout(r, 300))
      if (lg.child.exitCode === null) lg.child.kill('SIGKILL')
      sub.disconnect()
      await sys.stop().catch((e) => o.log(`stop: ${(e as Error).message}`))
      await dropDatabase(mysqlUrl).catch(() => {})
      const r = new Redis('redis://127.0.0.1:6379')
      const keys = await r.keys(`${prefix}*`).catch(() => [] as string[])
      for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500)).catch(() => {})
      r.disconnect()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
