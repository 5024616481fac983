#!/usr/bin/env node
// `npx zixt …`: runs ops/cli.ts on the pinned Node 24 (the dev dependency `node`),
// whatever node started this shim. Plain JS so it parses on any Node.
import { spawn } from 'node:child_process'
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
// glibc keeps large freed buffers in RSS once its mmap threshold has risen; a fixed threshold
// returns them (see mallocEnv in consensus/cluster.ts). The operator's own setting wins.
const child = spawn(node, [cli, ...process.argv.slice(2)], { stdio: 'inherit', env: { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env } })
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
