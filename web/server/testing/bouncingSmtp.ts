// A loopback SMTP server for tests that must see real mail traffic: it takes every mail
// (recording one recipient per delivery) except for one address, which it refuses the way
// Postfix does, quoting the address in its reply (so a test can check it is never logged).
import { SMTPServer } from 'smtp-server'

export type BouncingSmtp = { readonly port: number; readonly received: string[]; close(): void }

export async function bouncingSmtp(bounce: string): Promise<BouncingSmtp> {
  const received: string[] = []
  const smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'],
    onRcptTo(address, _s, cb) {
      if (address.address === bounce) return cb(Object.assign(new Error(`5.1.1 <${bounce}>: Recipient address rejected: User unknown`), { responseCode: 550 }))
      cb()
    },
    onData(stream, session, cb) {
      stream.resume()
      stream.on('end', () => { for (const r of session.envelope.rcptTo) received.push(r.address); cb() })
    },
  })
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()))
  return { port: (smtp.server.address() as { port: number }).port, received, close: () => smtp.close() }
}
