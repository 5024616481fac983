// ioredis resolves exec() with one [error, reply] pair per command: a command that failed
// (NOPERM, WRONGTYPE, OOM, a script error) does not reject it. Whoever goes on as if its
// commands ran (advancing a checkpoint, deleting what they replaced) checks the replies here.

type Exec = { exec(): Promise<[Error | null, unknown][] | null> }

/** Sends the pipeline (or MULTI) and returns its replies; throws the first command's error. */
export async function execAll(pipe: Exec): Promise<unknown[]> {
  const results = await pipe.exec()
  if (results === null) throw new Error('redis: EXEC answered null (the transaction was aborted)')
  for (const [err] of results) if (err !== null) throw err
  return results.map(([, reply]) => reply)
}
