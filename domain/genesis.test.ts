import t from 'tap'
import { ZixtError } from './errors.ts'
import { genesisState } from './execute.ts'
import { checkGenesisShape, decodeGenesis, encodeGenesis, genesisHash, verifyGenesis } from './genesis.ts'
import { encode } from './ledger/codec.ts'
import { crypto, testGenesis } from './testing/fixtures.ts'

const { genesis } = testGenesis()

t.test('round-trips through canonical bytes and verifies', async (t) => {
  const bytes = encodeGenesis(genesis)
  const back = decodeGenesis(bytes)
  t.same(back, genesis)
  t.same(encodeGenesis(back), bytes, 'same bytes again')
  verifyGenesis(back, crypto)
  t.equal(genesisHash(genesis, crypto).length, 32)
  const state = genesisState(back)
  t.equal(state.replicas.length, 1)
  t.ok(state.serviceKeys.has('service:web'))
  t.equal(state.nextPosition, 0)
})

t.test('refuses bad structure, naming the field', async (t) => {
  const bad = (g: object, field: string) => {
    try {
      checkGenesisShape(g as never)
      t.fail(`${field}: accepted`)
    } catch (e) {
      t.ok(e instanceof ZixtError && e.message.startsWith(field), `${field}: ${(e as Error).message}`)
    }
  }
  bad({ ...genesis, f: 1 }, 'genesis.replicas')
  bad({ ...genesis, chainId: 'Bad Chain' }, 'genesis.chainId')
  bad({ ...genesis, replicas: [{ ...genesis.replicas[0]!, index: 2 }] }, 'genesis.replicas[0].index')
  bad({ ...genesis, servicePublicKeys: [genesis.servicePublicKeys[0], genesis.servicePublicKeys[0]] }, 'genesis.servicePublicKeys[1].keyId')
  bad({ ...genesis, servicePublicKeys: [{ keyId: 'web', publicKey: genesis.servicePublicKeys[0]!.publicKey }] }, 'genesis.servicePublicKeys[0].keyId')
  t.throws(() => decodeGenesis(encode({ chainId: 'x' })), /genesis\.createdAt: missing/)
})

t.test('refuses a certificate not made by the replica identity key', async (t) => {
  const other = { ...genesis, createdAt: genesis.createdAt + 1 } // the certificate covers issuedAt = createdAt
  t.throws(() => verifyGenesis(other, crypto), /operationalKeyCert/)
})
