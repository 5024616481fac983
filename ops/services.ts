// Service check: MariaDB and Redis must be real servers. Starts them when they
// are installed but stopped (commands from DESIGN.md), then waits until they answer.
import { spawnSync } from 'node:child_process'
import { createConnection } from 'node:net'

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
    s.setTimeout(1000, () => { s.destroy(); resolve(false) })
  })
}

const services = [
  { name: 'MariaDB', port: 3306, start: ['start-stop-daemon', '--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'] },
  { name: 'Redis', port: 6379, start: ['redis-server', '--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'] },
]

export async function ensureServices(log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<void> {
  for (const s of services) {
    if (await reachable(s.port)) continue
    log(`services: ${s.name} is not answering on 127.0.0.1:${s.port}; starting it`)
    const r = spawnSync(s.start[0]!, s.start.slice(1), { stdio: 'inherit' })
    if (r.error) throw new Error(`services: cannot start ${s.name}: ${r.error.message}`)
    const deadline = Date.now() + 30_000
    while (!(await reachable(s.port))) {
      if (Date.now() > deadline) throw new Error(`services: ${s.name} did not come up on 127.0.0.1:${s.port} within 30 s`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

if (import.meta.main) await ensureServices()
