// The throwaway TLS certificate must be valid DER for every serial the random source can
// give: OpenSSL refuses a non-minimal INTEGER ("illegal padding"), which once made about one
// replica start in 500 fail.
import t from 'tap'
import { X509Certificate, randomBytes } from 'node:crypto'
import { derPositiveInteger, selfSignedCert } from './selfSignedCert.ts'

t.test('DER INTEGER bodies are positive and minimal', async (t) => {
  const cases: [number[], number[]][] = [
    [[0x00, 0x01, 0x02], [0x01, 0x02]],
    [[0x00, 0x00, 0x7f], [0x7f]],
    [[0x00, 0x80], [0x00, 0x80]],
    [[0x80, 0x00], [0x00, 0x80, 0x00]],
    [[0xff], [0x00, 0xff]],
    [[0x7f, 0xff], [0x7f, 0xff]],
    [[0x00, 0x00, 0x01], [0x01]],
  ]
  for (const [input, want] of cases) t.same([...derPositiveInteger(Uint8Array.from(input))], want, `${Buffer.from(input).toString('hex')} → ${Buffer.from(want).toString('hex')}`)
  t.throws(() => derPositiveInteger(Uint8Array.from([0, 0])), /positive/, 'zero is refused')
  t.throws(() => derPositiveInteger(new Uint8Array(0)), /positive/, 'empty is refused')
})

t.test('certificates parse for serials with leading zero bytes and high bits', async (t) => {
  const serials = [
    Uint8Array.from([0x00, 0x12, ...randomBytes(14)]),
    Uint8Array.from([0x00, 0x00, 0x00, ...randomBytes(13)]).map((b, i) => (i === 3 ? b | 1 : b)),
    Uint8Array.from([0x00, 0x92, ...randomBytes(14)]),
    Uint8Array.from([0xff, ...randomBytes(15)]),
    Uint8Array.from([0x01, ...randomBytes(15)]),
  ]
  for (const serial of serials) {
    const { certPem } = selfSignedCert('zixt', serial)
    const x = new X509Certificate(certPem)
    t.equal(BigInt('0x' + x.serialNumber), BigInt('0x' + Buffer.from(serial).toString('hex')), `serial ${Buffer.from(serial.subarray(0, 3)).toString('hex')}… parses and keeps its value`)
    t.ok(x.verify(x.publicKey), 'self-signature verifies')
  }
})
