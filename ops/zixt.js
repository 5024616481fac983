#!/usr/bin/env node
// `npx zixt …`: runs ops/cli.ts on the pinned Node 24 (the dev dependency `node`),
// whatever node started this shim. Plain JS so it parses on any Node.
import { spawnSync } from 'node:child_process'
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
const r = spawnSync(node, [cli, ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(r.status ?? (r.signal ? 128 : 1))
