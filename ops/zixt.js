#!/usr/bin/env node
// `npx zixt …`: runs ops/cli.ts on the pinned Node 24 (the dev dependency `node`),
// whatever node started this shim. Plain JS so it parses on any Node.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, 'cli.ts')
let node = process.execPath
if (Number(process.versions.node.split('.')[0]) < 24) {
  const require = createRequire(import.meta.url)
  node = join(dirname(require.resolve('node/package.json')), 'bin', 'node')
}
// glibc's malloc fixed, not adaptive: large freed buffers leave RSS, the arena's top is not
// given back and faulted in again many times a second (consensus/mallocEnv.json; mallocEnv in
// consensus/cluster.ts explains the values). The operator's own settings win. glibc reads
// them at start, so `npm run bench` comes through here too (`zixt.js bench NAME`).
const mallocEnv = JSON.parse(readFileSync(join(here, '..', 'consensus', 'mallocEnv.json'), 'utf8'))
const [target, args] = process.argv[2] === 'bench' ? [join(here, 'bench.ts'), process.argv.slice(3)] : [cli, process.argv.slice(2)]
const child = spawn(node, [target, ...args], { stdio: 'inherit', env: { ...mallocEnv, ...process.env } })
// The child must not outlive us unnoticed: forward termination signals (SIGINT from a
// terminal already reaches the whole process group, so it is not sent twice), and when
// our parent goes away (npm killed with SIGTERM takes its shell with it) stop the child.
const parent = process.ppid
for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig))
process.on('SIGINT', () => {})
const orphaned = setInterval(() => { if (process.ppid !== parent) child.kill('SIGTERM') }, 500)
child.on('exit', (code, signal) => {
  clearInterval(orphaned)
  process.exit(code ?? (signal ? 128 : 1))
})
