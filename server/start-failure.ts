// Why the standalone server could not start, in one line that names the cause and the fix. The
// stack goes to the debug log only: at info level an operator sees the line, not a trace.
import type { ServerConfig } from './config.js'

interface Coded { code?: string, message?: string, syscall?: string, hostname?: string, cause?: unknown, errors?: unknown[] }

/** The error and its causes, outermost first (an AggregateError contributes its first error). */
function chain (err: unknown): Coded[] {
  const found: Coded[] = []
  for (let e = err; typeof e === 'object' && e !== null && found.length < 10;) {
    const coded = e as Coded
    found.push(coded)
    e = coded.cause ?? coded.errors?.[0]
  }
  return found
}

function database (config: ServerConfig): { where: string, user: string, name: string } {
  try {
    const url = new URL(config.databaseUrl ?? '')
    return { where: `${url.hostname}:${url.port === '' ? '5432' : url.port}`, user: decodeURIComponent(url.username), name: decodeURIComponent(url.pathname.slice(1)) }
  } catch {
    return { where: 'DATABASE_URL', user: '', name: '' }
  }
}

const firstLine = (text: string | undefined): string => (text ?? '').split('\n')[0]

// listening on HOST:PORT (syscall listen, or HOST's lookup), as opposed to reaching the database
function explainListen (e: Coded, config: ServerConfig): string | undefined {
  if (e.syscall !== 'listen' && !(e.syscall === 'getaddrinfo' && e.hostname === config.host)) return undefined
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${config.port} on ${config.host} is already in use: stop the process using it, or set PORT to a free port`
    case 'EACCES':
      return `port ${config.port} needs privileges this user does not have: set PORT to a port above 1023`
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `HOST=${config.host} is not an address of this machine: set HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for all)`
  }
}

export function explainStartFailure (err: unknown, config: ServerConfig): string {
  const errors = chain(err)
  const top = errors[0] ?? { message: String(err) }
  if (top.code === 'OBS_ERR_START_FAILED') return firstLine(top.message)
  if (top.code === 'OBS_ERR_INVALID_OPTION') return `${firstLine(top.message)}: check the OBSERVERS_* environment variables`
  const listen = explainListen(top, config)
  if (listen !== undefined) return listen
  const db = database(config)
  for (const e of errors) {
    switch (e.code) {
      case 'ECONNREFUSED':
        return `the database at ${db.where} refused the connection (nothing listens there): start PostgreSQL there, or fix DATABASE_URL`
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `the database host in DATABASE_URL (${db.where}) cannot be resolved: fix DATABASE_URL`
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `the database at ${db.where} cannot be reached (${e.code}): check the host in DATABASE_URL and the network`
      case '28P01':
        return `PostgreSQL refused the password of user "${db.user}": fix the user or password in DATABASE_URL`
      case '28000':
        return `PostgreSQL refused the connection (${firstLine(e.message)}): fix the user or database in DATABASE_URL, or the server's pg_hba.conf`
      case '3D000':
        return `database "${db.name}" does not exist on ${db.where}: create it (createdb ${db.name}), or fix DATABASE_URL`
      case '42501':
        return `user "${db.user}" may not create what fastify-observers needs (${firstLine(e.message)}): grant it CREATE on database "${db.name}", or use another user in DATABASE_URL`
      case '53300':
      case '57P03':
        return `PostgreSQL at ${db.where} does not accept connections now (${firstLine(e.message)}): try again later, or fix DATABASE_URL`
    }
  }
  return `${firstLine(top.message ?? String(err))}: fix the cause above (LOG_LEVEL=debug logs the error in full)`
}
