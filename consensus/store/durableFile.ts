// Small files that must survive a crash whole (key files): written beside the target, fsynced,
// then renamed (or linked) into place, and the directory fsynced. A crash leaves the old file
// or the new one, never a torn or empty one: without the fsyncs, a file system may persist the
// rename before the data (XFS, ext4 mounted without auto_da_alloc), and keys.json — which holds
// a replica's SLH-DSA identity key, fixed in genesis — could come back empty.
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

function writeTemp(path: string, data: string | Uint8Array, mode: number): string {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`)
  rmSync(tmp, { force: true }) // left by a crashed run of a process with our pid
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  const fd = openSync(tmp, 'wx', mode)
  try {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw e
  }
  closeSync(fd)
  return tmp
}

function syncDir(path: string): void {
  const fd = openSync(dirname(path), 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Replaces (or creates) `path` with `data`, owner-only by default: the old content or the new, whole. */
export function replaceFileDurably(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = writeTemp(path, data, mode)
  try {
    renameSync(tmp, path)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
  syncDir(path)
}

/** Creates `path` with `data`, whole or not at all; throws EEXIST (nothing written) when it exists. */
export function createFileDurably(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = writeTemp(path, data, mode)
  try {
    linkSync(tmp, path) // atomic, and refuses an existing target, unlike rename
  } finally {
    rmSync(tmp, { force: true })
  }
  syncDir(path)
}
