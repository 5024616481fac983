// Outgoing mail through nodemailer (SMTP from ZIXT_SMTP_URL); without SMTP settings the
// message is written to the log so a local `npm start` still shows the verification link.
import nodemailer from 'nodemailer'

export type Mail = { readonly to: string; readonly subject: string; readonly text: string }
export type Mailer = { send(mail: Mail): Promise<void>; close(): void }

export function smtpMailer(url: string, from: string): Mailer {
  const transport = nodemailer.createTransport(url)
  return {
    async send(m) {
      await transport.sendMail({ from, to: m.to, subject: m.subject, text: m.text })
    },
    close: () => transport.close(),
  }
}

export function logMailer(log: (line: string) => void): Mailer {
  return {
    async send(m) {
      log(`mail to ${m.to}: ${m.subject}\n${m.text}`)
    },
    close() {},
  }
}
