// The README's "Publishing to NATS JetStream", as written: its stream script, its observer (the
// JSON of the marked block) and its consumer, against a real nats-server -js.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { build, eventually } from './helper.js'
import { call } from './helpers/routes.js'
import { insertChanges } from './helpers/rows.js'
import { startNatsServer } from './helpers/nats-server.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

async function readmeObserver (): Promise<Record<string, unknown>> {
  const text = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const block = /<!-- nats-observer:start -->([\s\S]*?)<!-- nats-observer:end -->/.exec(text)
  if (block === null) throw new Error('README.md has no nats-observer block')
  const json = /<<'JSON'\n([\s\S]*?)\nJSON\n/.exec(block[1])
  if (json === null) throw new Error('the README block has no JSON here-document')
  return JSON.parse(json[1])
}

t.test('the README\'s stream, observer and consumer: each order change is read once, with its headers', async (t) => {
  const server = await startNatsServer(t)
  // no coverage from the example processes: they are not the plugin
  const env = { ...process.env, NATS_URL: server.url, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  const made = await run(process.execPath, ['examples/nats-stream.mjs'], { cwd: root, env })
  t.equal(made.stdout, 'stream ORDERS captures observers.order.>\n')
  t.equal((await run(process.execPath, ['examples/nats-stream.mjs'], { cwd: root, env })).stdout, made.stdout, 'running it again changes nothing')

  const { app, pool, schema } = await build(t)
  const body = await readmeObserver()
  const res = await call(app, 'POST', '', JSON.parse(JSON.stringify(body).replaceAll('nats://127.0.0.1:4222', server.url)))
  t.equal(res.statusCode, 201, res.body)
  await insertChanges(pool, schema, 2, 'order', (i) => ({ n: i + 1, total: 100 * (i + 1) }))

  const consumer = spawn(process.execPath, ['examples/nats-consumer.mjs'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { if (consumer.exitCode === null) consumer.kill('SIGKILL') })
  let output = ''
  consumer.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const lines = await eventually(() => {
    const complete = output.split('\n').filter((line) => line !== '')
    return complete.length >= 2 ? complete.map((line) => JSON.parse(line)) : undefined
  }, 20_000, 'the consumer to print both events')
  t.match(lines.sort((a, b) => a.entity_id.localeCompare(b.entity_id)), [
    { subject: 'observers.order.INSERT', msg_id: /^msg_/, traceparent: /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, event_type: 'INSERT', entity_id: '1', data: { n: 1, total: 100 } },
    { subject: 'observers.order.INSERT', msg_id: /^msg_/, event_type: 'INSERT', entity_id: '2', data: { n: 2, total: 200 } }
  ])
  const exited = once(consumer, 'exit')
  consumer.kill('SIGTERM')
  t.same(await exited, [0, null], 'Ctrl-C (or SIGTERM) ends it cleanly')
})
