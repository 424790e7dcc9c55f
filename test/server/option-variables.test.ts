// The standalone server's plugin options from OBSERVERS_* variables and an OBSERVERS_CONFIG file:
// names derived from the options schema, text turned into values, the file under the variables,
// and one line naming the variable or the file for anything wrong. Pure but for a few temp files.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Type } from 'typebox'
import { README_FILE, generateEnvTable, withTable } from '../../scripts/env-docs.js'
import { optionVariables, variableName } from '../../server/option-variables.js'
import { pluginOptionsFromEnv } from '../../server/plugin-options.js'

const refused = (t: Test, env: Record<string, string>, line: RegExp, cwd?: string): void => {
  t.throws(() => pluginOptionsFromEnv(env, cwd), { code: 'OBS_ERR_START_FAILED', message: line }, JSON.stringify(env))
  try {
    pluginOptionsFromEnv(env, cwd)
  } catch (err) {
    t.notMatch((err as Error).message, /\n/, 'one line')
  }
}

t.test('every data option has a variable named after its path; code and the server-set options have none', async (t) => {
  const names = optionVariables().map((variable) => variable.name)
  for (const expected of ['OBSERVERS_SCHEMA', 'OBSERVERS_RUNTIME_CONCURRENCY', 'OBSERVERS_RUNTIME_CIRCUIT_BREAKER', 'OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS',
    'OBSERVERS_RETENTION_LOG_DAYS', 'OBSERVERS_NETWORK_ALLOW_PRIVATE', 'OBSERVERS_SMTP', 'OBSERVERS_RUNTIME_MAX_IN_FLIGHT_PER_ENDPOINT']) {
    t.ok(names.includes(expected), expected)
  }
  for (const absent of ['OBSERVERS_AUTH', 'OBSERVERS_CONNECTION_STRING', 'OBSERVERS_POOL', 'OBSERVERS_DB', 'OBSERVERS_ACTIONS', 'OBSERVERS_TENANT']) {
    t.notOk(names.includes(absent), `${absent}: not data, or set by the server otherwise`)
  }
  t.same(optionVariables().find((variable) => variable.name === 'OBSERVERS_NETWORK_ALLOW_PRIVATE')?.aliases, ['OBSERVERS_ALLOW_PRIVATE_NETWORKS'])
  t.equal(variableName(['runtime', 'circuitBreaker', 'coolDownMs']), 'OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS')
})

t.test('an option added to the schema gets its variable with no other change', async (t) => {
  const schema = Type.Object({
    retention: Type.Object({ deadLetterDays: Type.Number({ default: 30 }) }, { additionalProperties: false }),
    hook: Type.Function([], Type.Any())
  }, { additionalProperties: false })
  t.same(optionVariables(schema as never).map((variable) => variable.name), ['OBSERVERS_RETENTION_DEAD_LETTER_DAYS'])
})

t.test('variables become typed options: numbers, booleans, false, JSON, text', async (t) => {
  const { options, unknownVariables } = pluginOptionsFromEnv({
    OBSERVERS_RUNTIME_CONCURRENCY: '7',
    OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS: '2000',
    OBSERVERS_RUNTIME_CIRCUIT_BREAKER_FAILURE_RATE: '0.5',
    OBSERVERS_RUNTIME_AUTO_RELOAD: 'false',
    OBSERVERS_RETENTION_LOG_DAYS: '0',
    OBSERVERS_SCHEMA: 'tenant_a',
    OBSERVERS_SMTP: '{"host":"mail.example","port":2525}',
    OBSERVERS_ALLOW_PRIVATE_NETWORKS: 'true',
    OBSERVERS_LISTENER_ID: 'east',
    OBSERVERS_ADMIN_TOKEN: 'not an option but the server\'s',
    OBSERVERS_RUNTIME_CONCURENCY: '9',
    OBSERVERS_PREFIX: ''
  })
  t.same(options, {
    runtime: { concurrency: 7, autoReload: false, listenerId: 'east', circuitBreaker: { coolDownMs: 2000, failureRate: 0.5 } },
    retention: { logDays: 0 },
    schema: 'tenant_a',
    smtp: { host: 'mail.example', port: 2525 },
    network: { allowPrivate: true }
  }, 'an empty variable counts as unset')
  t.same(unknownVariables, ['OBSERVERS_RUNTIME_CONCURENCY'], 'a misspelt variable is reported, not applied')
  t.same(pluginOptionsFromEnv({ OBSERVERS_RUNTIME_CIRCUIT_BREAKER: 'false' }).options, { runtime: { circuitBreaker: false } })
  t.same(pluginOptionsFromEnv({}).options, {}, 'nothing set: the plugin\'s defaults')
})

t.test('a wrong value is one line naming the variable, with register\'s message', async (t) => {
  refused(t, { OBSERVERS_RUNTIME_CONCURRENCY: '0' },
    /^OBSERVERS_RUNTIME_CONCURRENCY=0 is refused: 'runtime\.concurrency': must be >= 1: fix or unset OBSERVERS_RUNTIME_CONCURRENCY$/)
  refused(t, { OBSERVERS_RUNTIME_BATCH_SIZE: 'lots' }, /^OBSERVERS_RUNTIME_BATCH_SIZE=lots is refused: 'runtime\.batchSize': must be integer/)
  refused(t, { OBSERVERS_RUNTIME_CIRCUIT_BREAKER_FAILURE_RATE: '1.5' }, /^OBSERVERS_RUNTIME_CIRCUIT_BREAKER_FAILURE_RATE=1\.5 is refused: 'runtime\.circuitBreaker\.failureRate': must be <= 1/)
  refused(t, { OBSERVERS_RUNTIME_CIRCUIT_BREAKER: 'sometimes' }, /^OBSERVERS_RUNTIME_CIRCUIT_BREAKER=sometimes is refused: 'runtime\.circuitBreaker': /)
  refused(t, { OBSERVERS_NETWORK_ALLOW_PRIVATE: 'yes' }, /^OBSERVERS_NETWORK_ALLOW_PRIVATE=yes is refused: 'network\.allowPrivate': must be boolean/)
  refused(t, { OBSERVERS_SCHEMA: 'Bad-Name' }, /^OBSERVERS_SCHEMA=Bad-Name is refused: 'schema': /)
  refused(t, { OBSERVERS_RUNTIME_CIRCUIT_BREAKER: 'false', OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS: '2000' },
    /^OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS cannot be set while OBSERVERS_RUNTIME_CIRCUIT_BREAKER=false: unset one of them$/)
  refused(t, { OBSERVERS_ALLOW_PRIVATE_NETWORKS: 'true', OBSERVERS_NETWORK_ALLOW_PRIVATE: 'false' }, /set 'network\.allowPrivate' differently/)
})

t.test('a JSON variable\'s text is never echoed: it may hold a password', async (t) => {
  refused(t, { OBSERVERS_SMTP: '{"auth":{"pass":"hunter2"' }, /^OBSERVERS_SMTP is not valid JSON: fix or unset OBSERVERS_SMTP$/)
  refused(t, { OBSERVERS_SMTP: '["hunter2"]' }, /^OBSERVERS_SMTP is refused: 'smtp': must be object/)
})

t.test('OBSERVERS_CONFIG: a JSON file of options, under the variables; its problems name it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'observers-config-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const file = async (name: string, text: string): Promise<string> => {
    await writeFile(join(dir, name), text)
    return join(dir, name)
  }
  const good = await file('good.json', JSON.stringify({ runtime: { concurrency: 3, circuitBreaker: false, batchSize: 50 }, retention: { changeLogDays: 2 } }))
  t.same(pluginOptionsFromEnv({ OBSERVERS_CONFIG: good }).options, { runtime: { concurrency: 3, circuitBreaker: false, batchSize: 50 }, retention: { changeLogDays: 2 } })
  t.same(pluginOptionsFromEnv({ OBSERVERS_CONFIG: 'good.json', OBSERVERS_RUNTIME_CONCURRENCY: '5', OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS: '2000' }, dir).options,
    { runtime: { concurrency: 5, circuitBreaker: { coolDownMs: 2000 }, batchSize: 50 }, retention: { changeLogDays: 2 } },
    'a relative path is from the working folder; variables override the file, a field over its false included')

  const bad = await file('bad.json', JSON.stringify({ runtime: { concurrency: 0 } }))
  refused(t, { OBSERVERS_CONFIG: bad }, new RegExp(`^OBSERVERS_CONFIG=${bad} is refused: 'runtime\\.concurrency': must be >= 1: fix that option in the file$`))
  t.same(pluginOptionsFromEnv({ OBSERVERS_CONFIG: bad, OBSERVERS_RUNTIME_CONCURRENCY: '4' }).options, { runtime: { concurrency: 4 } }, 'a variable may fix what the file got wrong')
  const typo = await file('typo.json', JSON.stringify({ runtime: { concurency: 3 } }))
  refused(t, { OBSERVERS_CONFIG: typo }, /is refused: 'runtime\.concurency': unknown option: fix that option in the file$/)
  refused(t, { OBSERVERS_CONFIG: await file('auth.json', '{"auth":{"tokens":["0123456789abcdef"]}}') }, /: 'auth' is set by OBSERVERS_ADMIN_TOKEN in the standalone server: remove it from the file$/)
  refused(t, { OBSERVERS_CONFIG: await file('code.json', '{"tenant":"acme"}') }, /: 'tenant' is not an option the standalone server can take from a file/)
  refused(t, { OBSERVERS_CONFIG: await file('broken.json', '{"smtp":{"auth":{"pass":"hunter2"}') },
    new RegExp(`^OBSERVERS_CONFIG=${dir}/broken\\.json is not valid JSON( \\(at position \\d+\\))?: fix the file$`))
  refused(t, { OBSERVERS_CONFIG: await file('list.json', '[1, 2]') }, /must hold one JSON object of plugin options: fix the file$/)
  refused(t, { OBSERVERS_CONFIG: join(dir, 'missing.json') },
    new RegExp(`^OBSERVERS_CONFIG=${dir}/missing\\.json does not exist: create it, or fix or unset OBSERVERS_CONFIG$`))
  refused(t, { OBSERVERS_CONFIG: dir }, new RegExp(`^OBSERVERS_CONFIG=${dir} cannot be read \\(EISDIR\\)`))
  if (process.getuid?.() !== 0) {
    const locked = await file('locked.json', '{}')
    await chmod(locked, 0o000)
    refused(t, { OBSERVERS_CONFIG: locked }, /cannot be read \(EACCES\)/)
  }
})

t.test('the README lists exactly the variables the options schema has (run `npm run -s docs:env` after an option change)', async (t) => {
  const readme = await readFile(README_FILE, 'utf8')
  const generated = await generateEnvTable()
  t.ok(withTable(readme, generated) === readme, 'README.md is up to date')
  for (const variable of optionVariables()) t.match(generated, `\`${variable.name}\``)
})
