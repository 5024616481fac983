// One process per store directory: two writers appending to the same segment
// would interleave records. The LOCK file holds the owner's pid; a lock whose
// process is gone (killed, crashed) is stale and taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, ZixtError } from '../../domain/errors.ts'

export type DirLock = { readonly path: string; release(): void }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function acquireLock(dir: string): DirLock {
  const path = join(dir, 'LOCK')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return { path, release: () => rmSync(path, { force: true }) }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const owner = Number(readFileSync(path, 'utf8'))
      if (Number.isSafeInteger(owner) && owner > 0 && alive(owner)) {
        throw new ZixtError(ErrorCode.unavailable, `${dir}: ledger store is open in process ${owner}`, { field: 'dir', pid: owner })
      }
      rmSync(path, { force: true }) // stale: its owner is gone
    }
  }
  throw new ZixtError(ErrorCode.unavailable, `${dir}: could not take the store lock`, { field: 'dir' })
}
