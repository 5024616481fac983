// Shared benchmark helpers: bounded timing loops, a printed table, a JSON result file.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, platform, arch } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export type Cell = string | number | null
export type Row = Readonly<Record<string, Cell>>

export type Measurement = { readonly iterations: number; readonly totalMs: number; readonly opsPerSec: number; readonly meanMs: number }

/**
 * Runs `fn` until `maxIterations` or `maxMs` is reached (at least once), after one untimed
 * warm-up call when that call is cheap (under a tenth of the budget). Never unbounded.
 */
export async function measure(fn: () => unknown, opts: { maxMs: number; maxIterations: number }): Promise<Measurement> {
  const first = performance.now()
  await fn()
  const firstMs = performance.now() - first
  let iterations = 0
  let totalMs = 0
  if (firstMs > opts.maxMs / 10) {
    iterations = 1 // too slow to waste: the first call counts
    totalMs = firstMs
  }
  const start = performance.now() - totalMs
  while (iterations < opts.maxIterations && totalMs < opts.maxMs) {
    await fn()
    iterations++
    totalMs = performance.now() - start
  }
  return { iterations, totalMs, opsPerSec: (iterations * 1000) / totalMs, meanMs: totalMs / iterations }
}

/** 3 significant digits, thousands separated: 12,300 / 45.6 / 0.123. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : Math.abs(n) >= 1 ? 2 : 3
  return Number(n.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: digits })
}

export function printTable(rows: readonly Row[], columns: readonly string[] = Object.keys(rows[0] ?? {})): string {
  const text = (c: Cell) => (c === null ? '-' : typeof c === 'number' ? formatNumber(c) : c)
  const widths = columns.map((col) => Math.max(col.length, ...rows.map((r) => text(r[col] ?? null).length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  const out = [line([...columns]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(columns.map((c) => text(r[c] ?? null))))].join('\n')
  process.stdout.write(`${out}\n`)
  return out
}

export function environment(): Record<string, unknown> {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout?.trim() || null
  return {
    node: process.versions.node,
    openssl: process.versions.openssl,
    v8: process.versions.v8,
    platform: platform(),
    arch: arch(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    loadavg: loadavg(),
    commit,
  }
}

/** bench-results/, made if missing (a fresh clone has none). */
export function resultsDir(): string {
  const dir = join(repoRoot, 'bench-results')
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Prints the table, writes bench-results/<name>-<timestamp>.json, prints and returns its path. */
export function report(name: string, rows: readonly Row[], extra: { columns?: readonly string[]; options?: unknown; notes?: readonly string[] } = {}): string {
  printTable(rows, extra.columns)
  for (const note of extra.notes ?? []) process.stdout.write(`note: ${note}\n`)
  const dir = resultsDir()
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const path = join(dir, `${name}-${stamp}.json`)
  const body = { name, finishedAt: new Date().toISOString(), environment: environment(), options: extra.options ?? null, notes: extra.notes ?? [], rows }
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`)
  process.stdout.write(`results: ${relative(process.cwd(), path) || path}\n`)
  return path
}

/** A bad command-line option: `npm run bench` prints its message alone and exits with 2. */
export class OptionError extends Error {}

/** --name value / --flag options into a map; unknown ones are the caller's to refuse. */
export function parseOptions(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (!a.startsWith('--')) throw new OptionError(`unexpected argument "${a}"`)
    const eq = a.indexOf('=')
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1))
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) out.set(a.slice(2), args[++i]!)
    else out.set(a.slice(2), 'true')
  }
  return out
}

/**
 * A numeric option: the fallback when absent, else the number given, which must be finite,
 * at least `min` and, when `integer`, whole. A bad value throws naming the option and the value.
 */
export function numberOption(opts: ReadonlyMap<string, string>, name: string, fallback: number, rule: { readonly min: number; readonly integer?: boolean }): number {
  const raw = opts.get(name)
  if (raw === undefined) return fallback
  const n = raw.trim() === '' ? Number.NaN : Number(raw)
  if (!Number.isFinite(n) || n < rule.min || (rule.integer === true && !Number.isInteger(n))) {
    throw new OptionError(`--${name}: expected ${rule.integer === true ? 'a whole number' : 'a number'} ≥ ${rule.min}, got '${raw}'`)
  }
  return n
}

/** A list of positive numbers separated by commas ('' for none), or the fallback when absent. */
export function numbersOption(opts: ReadonlyMap<string, string>, name: string, fallback: readonly number[]): number[] {
  const raw = opts.get(name)
  if (raw === undefined) return [...fallback]
  const list = raw === '' ? [] : raw.split(',').map((x) => (x.trim() === '' ? Number.NaN : Number(x)))
  if (list.some((r) => !Number.isFinite(r) || r <= 0)) throw new OptionError(`--${name}: expected positive numbers separated by commas, got '${raw}'`)
  return list
}
