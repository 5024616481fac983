// A projection runner running in the background of a test.
import type { ProjectionRunner } from '../runner.ts'

/** Starts `runner.run`; the function returned stops it, waits for the loop to end and closes its connection. */
export function runInBackground(runner: ProjectionRunner, until?: number): () => Promise<void> {
  const stop = new AbortController()
  const running = runner.run(stop.signal, until)
  return async () => {
    stop.abort()
    await running
    await runner.close()
  }
}
