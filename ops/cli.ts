// The `zixt` command: one file per subcommand under ops/, loaded on demand.
const commands: Record<string, { file: string; help: string }> = {
  keygen: { file: './keygen.ts', help: 'write a new user identity + device key file (passphrase-encrypted)' },
  cluster: { file: './cluster.ts', help: 'start a local 4-replica cluster' },
  node: { file: './node.ts', help: 'start one replica: --config FILE' },
  start: { file: './start.ts', help: 'start the whole system: cluster, projections, web' },
  projections: { file: './projections.ts', help: 'projections rebuild [NAME]' },
  audit: { file: './audit.ts', help: 'verify a ledger: --data DIR [--json]' },
  replay: { file: './replay.ts', help: 'print events: --data DIR [--stream S] [--from H] [--json]' },
  admin: { file: './admin.ts', help: 'admin create: the first administrator' },
  'rotate-keys': { file: './rotateKeys.ts', help: 'run the key rotation job once' },
}

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.help}`)
  return `usage: zixt <command> [options]\n\n${rows.join('\n')}\n`
}

const [name, ...args] = process.argv.slice(2)
const entry = name === undefined ? undefined : commands[name]
if (entry === undefined) {
  process.stderr.write(name === undefined || name === '--help' ? usage() : `zixt: unknown command "${name}"\n\n${usage()}`)
  process.exit(name === undefined || name === '--help' ? 0 : 2)
}
const mod = (await import(entry.file)) as { main(args: string[]): Promise<number> }
process.exitCode = await mod.main(args)
