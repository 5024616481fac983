// Bundles the browser app with esbuild into web/static/dist/: main.js (the page), worker.js
// (slow crypto off the main thread), shared chunks, index.html and app.css. No inline script,
// no CDN: everything is served from 'self' under the strict CSP.
// Run: `node web/client/build.ts` (postinstall) or buildClient() from the server's start.
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
export const defaultOutDir = resolve(here, '../static/dist')

export async function buildClient(o: { outDir?: string; minify?: boolean } = {}): Promise<{ outDir: string; bytes: number }> {
  const outDir = o.outDir ?? defaultOutDir
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  const result = await esbuild.build({
    entryPoints: { main: join(here, 'main.ts'), worker: join(here, 'worker.ts') },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: o.minify ?? true,
    sourcemap: false,
    chunkNames: 'chunks/[name]-[hash]',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  })
  await copyFile(join(here, 'ui', 'index.html'), join(outDir, 'index.html'))
  await copyFile(join(here, 'ui', 'app.css'), join(outDir, 'app.css'))
  const bytes = Object.values(result.metafile.outputs).reduce((n, out) => n + out.bytes, 0)
  return { outDir, bytes }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  const { outDir, bytes } = await buildClient()
  process.stdout.write(`zixt client: ${(bytes / 1024).toFixed(0)} KiB in ${outDir} (${Date.now() - started} ms)\n`)
}

/** For `npm start`: build only when web/static/dist has no index.html yet. */
export async function buildIfMissing(): Promise<void> {
  const { existsSync } = await import('node:fs')
  if (!existsSync(join(defaultOutDir, 'index.html'))) await buildClient()
}
