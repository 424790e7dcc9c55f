// A real SMTP server (smtp-server) on 127.0.0.1, port 0, keeping every message it accepts.
import { SMTPServer } from 'smtp-server'
import type { SMTPServerAddress } from 'smtp-server'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface ReceivedMail {
  from: string
  /** Envelope recipients (To and Cc alike). */
  recipients: string[]
  /** Unfolded header lines, names lower-cased; repeated names keep the first value. */
  headers: Record<string, string>
  /** Body text, quoted-printable decoded. */
  text: string
}

export interface SmtpTarget {
  /** nodemailer transport options for this server. */
  transport: Record<string, unknown>
  mails: ReceivedMail[]
  /** SMTP sessions opened so far. */
  connections: () => number
  /** Resolves with the next accepted message. */
  nextMail: () => Promise<ReceivedMail>
}

/** `reject(address)` may return an SMTP reply code to refuse that recipient with. */
export async function startSmtpTarget (t: Test, reject: (recipient: string) => number | null = () => null): Promise<SmtpTarget> {
  const mails: ReceivedMail[] = []
  const waiting: Array<(mail: ReceivedMail) => void> = []
  let connections = 0
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect (_session, callback) {
      connections++
      callback()
    },
    onRcptTo (address: SMTPServerAddress, _session, callback) {
      const code = reject(address.address)
      if (code === null) return callback()
      callback(Object.assign(new Error(`recipient ${address.address} refused`), { responseCode: code }))
    },
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const mail = parse(Buffer.concat(chunks).toString('utf8'), session.envelope.mailFrom, session.envelope.rcptTo)
        mails.push(mail)
        waiting.shift()?.(mail)
        callback()
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()) }))
  const { port } = server.server.address() as { port: number }
  return {
    transport: { host: '127.0.0.1', port, secure: false, ignoreTLS: true },
    mails,
    connections: () => connections,
    nextMail: () => new Promise((resolve) => waiting.push(resolve))
  }
}

function parse (raw: string, mailFrom: false | SMTPServerAddress, rcptTo: SMTPServerAddress[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n')
  const headers: Record<string, string> = {}
  for (const line of raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    headers[name] ??= line.slice(colon + 1).trim()
  }
  let text = raw.slice(split + 4)
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    const bytes = text.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    text = Buffer.from(bytes, 'latin1').toString('utf8')
  }
  return {
    from: mailFrom === false ? '' : mailFrom.address,
    recipients: rcptTo.map((r) => r.address),
    headers,
    text
  }
}
