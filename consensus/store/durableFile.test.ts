import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createFileDurably, replaceFileDurably } from './durableFile.ts'

const dir = mkdtempSync(join(tmpdir(), 'zixt-durable-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('replace: the new content whole, owner-only, no temp file left', async (t) => {
  const f = join(dir, 'keys.json')
  writeFileSync(f, 'old', { mode: 0o644 })
  replaceFileDurably(f, '{"k":1}\n')
  t.equal(readFileSync(f, 'utf8'), '{"k":1}\n')
  t.equal(statSync(f).mode & 0o777, 0o600, 'mode 0600 even over a 0644 file')
  replaceFileDurably(join(dir, 'genesis.cbor'), new Uint8Array([1, 2, 3]), 0o644)
  t.equal(statSync(join(dir, 'genesis.cbor')).mode & 0o777, 0o644)
  t.same(readdirSync(dir).sort(), ['genesis.cbor', 'keys.json'], 'only the targets')
})

t.test('create: refuses an existing file without touching it', async (t) => {
  const f = join(dir, 'zixt-keys.json')
  createFileDurably(f, 'first')
  t.equal(readFileSync(f, 'utf8'), 'first')
  t.throws(() => createFileDurably(f, 'second'), { code: 'EEXIST' })
  t.equal(readFileSync(f, 'utf8'), 'first', 'the existing file is untouched')
  t.notOk(readdirSync(dir).some((n) => n.includes('.tmp-')), 'no temp file left')
})

t.test('a write that cannot happen leaves nothing behind', async (t) => {
  t.throws(() => replaceFileDurably(join(dir, 'missing', 'keys.json'), 'x'), { code: 'ENOENT' })
  const sub = join(dir, 'ro')
  writeFileSync(sub, 'a file, not a directory')
  t.throws(() => createFileDurably(join(sub, 'k.json'), 'x'), { code: 'ENOTDIR' })
})
