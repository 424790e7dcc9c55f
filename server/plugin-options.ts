// The plugin options of the standalone server (SPEC 9.9): a JSON file named by OBSERVERS_CONFIG, then
// the OBSERVERS_* variables over it, checked by the plugin's own validation before anything starts.
// A wrong value is one StartFailedError line naming the variable, or the file and the option in it.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { StartFailedError } from '../lib/errors.js'
import { resolveOptions } from '../lib/options.js'
import {
  SERVER_SET, SERVER_VARIABLES, VariableTextError, optionVariables, parseVariable, takesJson, type OptionVariable
} from './option-variables.js'

type Options = Record<string, unknown>

export interface PluginOptionsFromEnv {
  /** data options only: the server adds the connection and the auth */
  options: Options
  /** OBSERVERS_* variables that name no setting (a typo, or a setting of a newer version) */
  unknownVariables: string[]
}

interface Source { variable: OptionVariable, name: string, text: string }

// the parser's message quotes the text, which may hold a secret: only where it failed is told
const wherePosition = (err: unknown): string => {
  const at = /position (\d+)/.exec((err as Error).message)
  return at === null ? '' : ` (at position ${at[1]})`
}

const isObject = (value: unknown): value is Options => value !== null && typeof value === 'object' && !Array.isArray(value)

function readFile (path: string): Options {
  const where = `OBSERVERS_CONFIG=${path}`
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ENOENT') throw new StartFailedError(`${where} does not exist: create it, or fix or unset OBSERVERS_CONFIG`)
    throw new StartFailedError(`${where} cannot be read (${code ?? (err as Error).message}): make it a file this user can read, or unset OBSERVERS_CONFIG`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new StartFailedError(`${where} is not valid JSON${wherePosition(err)}: fix the file`)
  }
  if (!isObject(parsed)) throw new StartFailedError(`${where} must hold one JSON object of plugin options: fix the file`)
  const settable = new Set(optionVariables().map((variable) => variable.path[0]))
  for (const key of Object.keys(parsed)) {
    if (key in SERVER_SET) throw new StartFailedError(`${where}: '${key}' is set by ${SERVER_SET[key]} in the standalone server: remove it from the file`)
    if (!settable.has(key) && key !== '$schema') {
      throw new StartFailedError(`${where}: '${key}' is not an option the standalone server can take from a file (code, or unknown): remove it from the file`)
    }
  }
  delete parsed.$schema
  return parsed
}

/** The variables set in `env`, the option each sets, parents before children. */
function sources (env: NodeJS.ProcessEnv, variables: OptionVariable[]): Source[] {
  const found: Source[] = []
  for (const variable of variables) {
    const set = [variable.name, ...variable.aliases].filter((name) => env[name] !== undefined && env[name] !== '')
    if (set.length === 0) continue
    const texts = new Set(set.map((name) => env[name]))
    if (texts.size > 1) throw new StartFailedError(`${set.join(' and ')} set '${variable.path.join('.')}' differently: set only ${variable.name}`)
    found.push({ variable, name: set[0], text: env[set[0]] as string })
  }
  return found.sort((a, b) => a.variable.path.length - b.variable.path.length)
}

/** A variable's value over the file's: an object the file set is replaced under a variable, never merged with another variable's. */
function apply (options: Options, source: Source, value: unknown, applied: Source[]): void {
  const { path } = source.variable
  let node = options
  for (let depth = 0; depth < path.length - 1; depth++) {
    const key = path[depth]
    if (!isObject(node[key])) {
      const parent = applied.find((other) => other.variable.path.join('.') === path.slice(0, depth + 1).join('.'))
      if (parent !== undefined) {
        throw new StartFailedError(`${source.name} cannot be set while ${parent.name}=${parent.text}: unset one of them`)
      }
      node[key] = {}
    }
    node = node[key] as Options
  }
  node[path[path.length - 1]] = value
}

function describe (source: Source, problem: string): string {
  const shown = takesJson(source.variable.schema) ? source.name : `${source.name}=${source.text}`
  return `${shown} is refused: ${problem}: fix or unset ${source.name}`
}

/** `'runtime.concurrency'` from `'runtime.concurrency': must be >= 1` */
const optionNamed = (message: string): string | undefined => /^'([^']*)'/.exec(message)?.[1]

/** Checks `options` as `register` would; a problem names the variable that set it, else the file. */
function validate (options: Options, set: Source[], file: string | undefined): void {
  try {
    resolveOptions({ ...options, connectionString: 'postgres://server-check', auth: { tokens: ['x'.repeat(16)] } } as never)
  } catch (err) {
    if ((err as { code?: string }).code !== 'OBS_ERR_INVALID_OPTION') throw err
    const problem = (err as Error).message.replace(/^fastify-observers: invalid option /, '')
    const option = optionNamed(problem) ?? ''
    // the deepest variable at or above the option, as the variables override the file
    const source = set.filter(({ variable }) => option === variable.path.join('.') || option.startsWith(variable.path.join('.') + '.'))
      .sort((a, b) => b.variable.path.length - a.variable.path.length)[0]
    if (source !== undefined) throw new StartFailedError(describe(source, problem))
    if (file !== undefined) throw new StartFailedError(`OBSERVERS_CONFIG=${file} is refused: ${problem}: fix that option in the file`)
    throw new StartFailedError(`${problem}: check the OBSERVERS_* environment variables`)
  }
}

/** The plugin's data options from OBSERVERS_CONFIG and the OBSERVERS_* variables of `env`. */
export function pluginOptionsFromEnv (env: NodeJS.ProcessEnv, cwd = process.cwd()): PluginOptionsFromEnv {
  const variables = optionVariables()
  const configured = env.OBSERVERS_CONFIG === undefined || env.OBSERVERS_CONFIG === '' ? undefined : resolve(cwd, env.OBSERVERS_CONFIG)
  const options = configured === undefined ? {} : readFile(configured)
  const set = sources(env, variables)
  const applied: Source[] = []
  for (const source of set) {
    let value: unknown
    try {
      value = parseVariable(source.text, source.variable.schema)
    } catch (err) {
      if (!(err instanceof VariableTextError)) throw err
      throw new StartFailedError(`${source.name} ${err.message}: fix or unset ${source.name}`)
    }
    apply(options, source, value, applied)
    applied.push(source)
  }
  validate(options, set, configured)
  const known = new Set([...SERVER_VARIABLES, ...variables.flatMap((variable) => [variable.name, ...variable.aliases])])
  const unknownVariables = Object.keys(env).filter((name) => name.startsWith('OBSERVERS_') && !known.has(name)).sort()
  return { options, unknownVariables }
}
