// Test-only preload (`node --import`): shifts Date.now by the milliseconds written in the
// file named by ZIXT_TEST_CLOCK_FILE, re-read at most every 20 ms. The operator test runs
// the replicas (and the rotate-keys CLI) with it to move block time 31 and 91 days ahead:
// the domain ages keys by block time, which nothing else can move.
import { readFileSync } from 'node:fs'

const file = process.env['ZIXT_TEST_CLOCK_FILE']
if (file !== undefined) {
  const realNow = Date.now.bind(Date)
  let offset = 0
  let readAt = -Infinity
  Date.now = (): number => {
    const t = realNow()
    if (t - readAt > 20) {
      readAt = t
      try {
        offset = Number(readFileSync(file, 'utf8')) || 0
      } catch {
        offset = 0
      }
    }
    return t + offset
  }
}
