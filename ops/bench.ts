// `npm run bench -- <name> [options]`: loads ops/bench/<name>.ts and runs its main(args).
// Benchmarks are not tests: they print a table and write bench-results/<name>-<time>.json.
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { OptionError } from './bench/common.ts'

const benchDir = fileURLToPath(new URL('./bench/', import.meta.url))

function available(): string[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'common.ts')
    .map((f) => f.slice(0, -3))
    .sort()
}

const [name, ...args] = process.argv.slice(2)
const names = available()
if (name === undefined || name === '--help' || !/^[a-z][a-zA-Z0-9-]*$/.test(name) || !names.includes(name)) {
  const problem = name === undefined || name === '--help' ? '' : `unknown benchmark "${name}"\n\n`
  process.stderr.write(`${problem}usage: npm run bench -- <name> [options]\n\nbenchmarks: ${names.join(', ')}\n`)
  process.exit(name === undefined || name === '--help' ? 0 : 2)
}
const mod = (await import(`./bench/${name}.ts`)) as { main(args: string[]): Promise<number | void> }
try {
  process.exitCode = (await mod.main(args)) ?? 0
} catch (e) {
  if (!(e instanceof OptionError)) throw e
  process.stderr.write(`bench ${name}: ${e.message}\n`)
  process.exitCode = 2
}
