// noble.ts must bundle for the browser: no node: built-ins anywhere in its import graph.
// esbuild with platform 'browser' fails to resolve them, which is what a browser bundle would hit.
import t from 'tap'
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const entries = ['./noble.ts', '../encoding.ts', './index.ts'].map((p) => fileURLToPath(new URL(p, import.meta.url)))

for (const entry of entries) {
  t.test(`${entry.split('/domain/')[1]} bundles for the browser`, async (t) => {
    const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true })
    const inputs = Object.keys(result.metafile.inputs)
    t.notOk(inputs.some((p) => p.startsWith('node:') || p.includes('nativeKeys') || p.includes('native.ts')), 'no node: or native modules in the graph')
    t.ok(result.outputFiles[0]!.text.length > 0)
  })
}

t.test('native.ts does not bundle for the browser (the check can fail)', async (t) => {
  const entry = fileURLToPath(new URL('./native.ts', import.meta.url))
  await t.rejects(build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' }))
})
