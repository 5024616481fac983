// `npm run bench -- crypto [--time-ms 1000] [--backend both|native|noble] [--only TEXT]`
// ops/s of every facade primitive on both backends, with the native/noble ratio. Every cell
// is bounded by time (≤ 2 s) and by count, so the whole run stays well under two minutes.
import { nativeCrypto } from '../../domain/crypto/native.ts'
import { nobleCrypto } from '../../domain/crypto/noble.ts'
import type { CryptoFacade, Signer } from '../../domain/crypto/types.ts'
import { utf8Encode } from '../../domain/encoding.ts'
import { defaultKeyFileScrypt } from '../../domain/keyfile.ts'
import { measure, parseOptions, report, type Measurement, type Row } from './common.ts'

type Case = {
  readonly name: string
  readonly bytes?: number // payload size, for a throughput column
  /** Prepares inputs outside the timed loop and returns the operation to time. */
  readonly setup: (crypto: CryptoFacade) => () => unknown
}

const message = utf8Encode('x'.repeat(100)) // about one command's signed bytes
const context = utf8Encode('zixt/command/v1')
const KiB = 1024
const MiB = 1024 * 1024

function signerCases(label: string, pick: (c: CryptoFacade) => Signer): Case[] {
  return [
    { name: `${label} keygen`, setup: (c) => () => pick(c).keygen() },
    {
      name: `${label} sign`,
      setup: (c) => {
        const { secretKey } = pick(c).keygen()
        return () => pick(c).sign(secretKey, message, context)
      },
    },
    {
      name: `${label} verify`,
      setup: (c) => {
        // Signed natively: the bytes are the same, and a JS SLH-DSA signature costs seconds.
        const { publicKey, secretKey } = pick(nativeCrypto).keygen()
        const signature = pick(nativeCrypto).sign(secretKey, message, context)
        return () => pick(c).verify(publicKey, message, signature, context)
      },
    },
  ]
}

function aeadCases(size: number, label: string): Case[] {
  const prepare = (c: CryptoFacade) => {
    const key = c.randomBytes(32)
    const nonce = c.randomBytes(12)
    const plaintext = c.randomBytes(size)
    return { key, nonce, plaintext, sealed: c.aes256gcm.encrypt(key, nonce, plaintext) }
  }
  return [
    { name: `AES-256-GCM encrypt ${label}`, bytes: size, setup: (c) => { const p = prepare(c); return () => c.aes256gcm.encrypt(p.key, p.nonce, p.plaintext) } },
    { name: `AES-256-GCM decrypt ${label}`, bytes: size, setup: (c) => { const p = prepare(c); return () => c.aes256gcm.decrypt(p.key, p.nonce, p.sealed) } },
  ]
}

const cases: readonly Case[] = [
  ...signerCases('ML-DSA-65', (c) => c.mlDsa65),
  ...signerCases('ML-DSA-87', (c) => c.mlDsa87),
  ...signerCases('SLH-DSA-SHAKE-256f', (c) => c.slhDsaShake256f),
  { name: 'ML-KEM-1024 keygen', setup: (c) => () => c.mlKem1024.keygen() },
  { name: 'ML-KEM-1024 encapsulate', setup: (c) => { const { publicKey } = c.mlKem1024.keygen(); return () => c.mlKem1024.encapsulate(publicKey) } },
  {
    name: 'ML-KEM-1024 decapsulate',
    setup: (c) => {
      const { publicKey, secretKey } = c.mlKem1024.keygen()
      const { cipherText } = c.mlKem1024.encapsulate(publicKey)
      return () => c.mlKem1024.decapsulate(cipherText, secretKey)
    },
  },
  ...aeadCases(KiB, '1 KiB'),
  ...aeadCases(MiB, '1 MiB'),
  { name: 'SHA3-256 1 KiB', bytes: KiB, setup: (c) => { const d = c.randomBytes(KiB); return () => c.sha3_256(d) } },
  { name: 'SHA-256 1 KiB', bytes: KiB, setup: (c) => { const d = c.randomBytes(KiB); return () => c.sha256(d) } },
  { name: 'HKDF-SHA3-256 32 B', setup: (c) => { const ikm = c.randomBytes(32); return () => c.hkdfSha3_256(ikm, ikm, context, 32) } },
  { name: 'HMAC-SHA1 (TOTP)', setup: (c) => { const key = c.randomBytes(20); const counter = new Uint8Array(8); return () => c.hmac('sha1', key, counter) } },
  {
    name: `scrypt N=2^${Math.log2(defaultKeyFileScrypt.N)} r=${defaultKeyFileScrypt.r} p=${defaultKeyFileScrypt.p} (key file)`,
    setup: (c) => { const salt = c.randomBytes(16); return () => c.scrypt(utf8Encode('passphrase'), salt, { ...defaultKeyFileScrypt, dkLen: 32 }) },
  },
]

function row(name: string, bytes: number | undefined, native: Measurement | null, noble: Measurement | null): Row {
  const mibPerSec = (m: Measurement | null) => (m === null || bytes === undefined ? null : (m.opsPerSec * bytes) / MiB)
  return {
    primitive: name,
    'native ops/s': native?.opsPerSec ?? null,
    'noble ops/s': noble?.opsPerSec ?? null,
    'native/noble': native !== null && noble !== null ? native.opsPerSec / noble.opsPerSec : null,
    'native ms/op': native?.meanMs ?? null,
    'noble ms/op': noble?.meanMs ?? null,
    'native MiB/s': mibPerSec(native),
    'noble MiB/s': mibPerSec(noble),
    'native n': native?.iterations ?? null,
    'noble n': noble?.iterations ?? null,
  }
}

export async function main(args: string[]): Promise<number> {
  const options = parseOptions(args)
  const maxMs = Math.min(2000, Math.max(50, Number(options.get('time-ms') ?? 1000)))
  const backend = options.get('backend') ?? 'both'
  const only = options.get('only')
  if (!['both', 'native', 'noble'].includes(backend) || Number.isNaN(maxMs)) {
    process.stderr.write('usage: npm run bench -- crypto [--time-ms 1000] [--backend both|native|noble] [--only TEXT]\n')
    return 2
  }
  const backends = [nativeCrypto, nobleCrypto].filter((c) => backend === 'both' || c.backend === backend)
  const rows: Row[] = []
  for (const c of cases.filter((x) => only === undefined || x.name.includes(only))) {
    const results = new Map<string, Measurement>()
    for (const crypto of backends) {
      results.set(crypto.backend, await measure(c.setup(crypto), { maxMs, maxIterations: 100_000 }))
    }
    const r = row(c.name, c.bytes, results.get('native') ?? null, results.get('noble') ?? null)
    rows.push(r)
    process.stderr.write(`  ${c.name}: ${Math.round((r['native ops/s'] as number | null) ?? 0)} / ${Math.round((r['noble ops/s'] as number | null) ?? 0)} ops/s\n`)
  }
  report('crypto', rows, {
    options: { maxMs, backend, only: only ?? null },
    notes: [
      'single thread; sign/decapsulate reuse one key (the backends cache imported/expanded keys, as in production)',
      'verify cells check a natively made signature (same bytes; a JS SLH-DSA signature costs seconds)',
    ],
  })
  return 0
}
