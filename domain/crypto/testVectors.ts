// Test helper (not production code): loads the published vectors from ../shared/vectors
// (see SOURCES.md there) and lists the backends every crypto test runs against.
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fromHex } from '../encoding.ts'
import { nativeCrypto } from './native.ts'
import { nobleCrypto } from './noble.ts'
import type { CryptoFacade } from './types.ts'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const vectorsDir = process.env['ZIXT_VECTORS_DIR'] ?? join(repoRoot, '..', 'shared', 'vectors')

export function loadVectors<T>(file: string): T {
  return JSON.parse(readFileSync(join(vectorsDir, file), 'utf8')) as T
}

export const backends: readonly CryptoFacade[] = [nativeCrypto, nobleCrypto]

export const hex = (text: string): Uint8Array => fromHex(text)

/** ACVP files: { testGroups: [{ tgId, …, tests: [{ tcId, … }] }] }. */
export type AcvpFile<G, T> = { testGroups: (G & { tgId: number; tests: (T & { tcId: number })[] })[] }

/** Wycheproof files: { testGroups: [{ …, tests: [{ tcId, comment, flags, result }] }] }. */
export type WycheproofFile<G, T> = {
  testGroups: (G & { tests: (T & { tcId: number; comment?: string; flags: string[]; result: 'valid' | 'invalid' | 'acceptable' })[] })[]
}
