// The README's "First webhook in five minutes", run as written: its marked blocks, in order, against
// the real server (`npm start`'s script), the real receiver (examples/receiver.mjs) and a database
// of their own, then examples/host-app.ts in another. A marker is an HTML comment before a block:
//   server, receiver     started in the background (a receiver block replaces the running receiver)
//   run                  run with bash; must exit 0
//   poll                 run again until its output has the shape of the output block after it
//   output [exact]       the shape of the last run's output (exact: equal to it)
//   receiver-output      the shape of the next JSON document the receiver prints
//   file <path>          the block is that file, as it is
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as pause } from 'node:timers/promises'
import pg from 'pg'
import t, { type Test } from 'tap'
import { getDatabaseUrl, uniqueSchema } from './helpers/pg.js'
import { closedPort } from './helpers/ports.js'
import { documentsIn, shapeProblem } from './helpers/json-shape.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

interface Block { marker: string, argument: string, lang: string, text: string, line: number }

const MARKER = /<!-- walkthrough: ([a-z-]+)(?: ([^>]*?))? -->\n```(\w*)\n([\s\S]*?)\n```/g

function markedBlocks (markdown: string): Block[] {
  return [...markdown.matchAll(MARKER)].map((m) => ({
    marker: m[1], argument: m[2] ?? '', lang: m[3], text: m[4], line: markdown.slice(0, m.index).split('\n').length
  }))
}

const readme = await readFile(join(root, 'README.md'), 'utf8')
const blocks = markedBlocks(readme)
const packageJson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }

/** A database of its own (the README's `orders` and `observer` schema would meet other tests' in a shared one). */
async function freshDatabase (t: Test): Promise<string> {
  const url = await getDatabaseUrl()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const name = uniqueSchema('readme')
  await admin.query(`create database "${name}"`)
  t.teardown(async () => {
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.end()
  })
  const own = new URL(url)
  own.pathname = `/${name}`
  return own.href
}

/** The environment of a new user's shell: none of this process's settings for the server. */
function cleanEnv (): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) =>
    !/^(DATABASE_URL|PORT|HOST|LOG_LEVEL|TOKEN|RECEIVER_.*|OBSERVERS_.*|EMBEDDED_PG_.*)$/.test(name)))
  // no coverage from the processes started here: the server runs a bundle tap cannot map back
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
}

interface Background { name: string, child: ChildProcess, output: () => string, exited: Promise<unknown> }

/** Runs a block in the background, in a process group of its own; stopped (group and all) at teardown. */
function background (t: Test, name: string, script: string, env: NodeJS.ProcessEnv): Background {
  const child = spawn('bash', ['-c', script], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = child.exitCode !== null ? Promise.resolve() : once(child, 'exit')
  const started: Background = { name, child, output: () => output, exited }
  t.teardown(async () => { await stop(started) })
  return started
}

/** SIGTERM to the group (Ctrl-C's job), SIGKILL when it is still there after 20 s. */
async function stop (process_: Background): Promise<void> {
  const { child } = process_
  if (child.exitCode !== null || child.signalCode !== null) return
  const signal = (name: NodeJS.Signals): void => { try { process.kill(-(child.pid as number), name) } catch {} }
  signal('SIGTERM')
  const deadline = new AbortController()
  const killed = pause(20_000, undefined, { signal: deadline.signal }).then(() => { signal('SIGKILL') }, () => {})
  await process_.exited
  deadline.abort()
  await killed
}

/** Calls `check` every 200 ms until it returns a value other than undefined, for at most `ms`. */
async function poll<T> (what: string, ms: number, check: () => Promise<T | undefined> | T | undefined, explain: () => string = () => ''): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${explain() === '' ? '' : `:\n${explain()}`}`)
    await pause(200)
  }
}

/** The status of a GET (undefined while nothing answers), on a connection of its own that is closed after. */
async function statusOf (url: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<number | undefined> {
  return await new Promise((resolve) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode))
    })
    req.once('error', () => resolve(undefined))
    req.end(options.body)
  })
}

const tail = (text: string, lines = 30): string => text.trimEnd().split('\n').slice(-lines).join('\n')

t.test('the README marks its walk-through: every marker is followed by a block', async (t) => {
  t.equal(blocks.length, readme.split('<!-- walkthrough:').length - 1, 'as many blocks as markers')
  t.ok(blocks.some((b) => b.marker === 'server') && blocks.some((b) => b.marker === 'receiver'), 'a server and a receiver')
  // the substitution of `npm start` below relies on it
  t.equal(packageJson.scripts.start, 'node scripts/start.js')
  t.equal(packageJson.scripts.sql, 'node scripts/sql.js')
})

t.test('the files the README shows are the files in the repository', async (t) => {
  for (const block of blocks.filter((b) => b.marker === 'file')) {
    const file = await readFile(join(root, block.argument), 'utf8')
    t.equal(block.text, file.trimEnd(), `README.md line ${block.line} is ${block.argument}`)
  }
})

t.test('the walk-through: a signed webhook arrives and verifies, a dead letter is retried and delivered', async (t) => {
  const serverPort = await closedPort()
  const receiverPort = await closedPort()
  // the only changes to the README's text: the ports this test chose, and what `npm start` runs
  // (npm would not pass the SIGTERM that ends the server on to it)
  const substitutions: Array<[string, string]> = [
    ['npm start', 'node scripts/start.js'],
    ['127.0.0.1:3000', `127.0.0.1:${serverPort}`],
    ['127.0.0.1:4917', `127.0.0.1:${receiverPort}`]
  ]
  const substitute = (text: string): string => substitutions.reduce((s, [from, to]) => s.replaceAll(from, to), text)
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    DATABASE_URL: await freshDatabase(t),
    PORT: String(serverPort),
    RECEIVER_PORT: String(receiverPort)
  }
  for (const [from] of substitutions) t.ok(blocks.some((b) => b.text.includes(from)), `the walk-through uses ${from}`)

  let server: Background | undefined
  let receiver: Background | undefined
  const receivers: Background[] = []
  let seen = 0 // JSON documents of the current receiver compared so far
  let last: { block: Block, stdout: string } | undefined

  const shell = async (block: Block): Promise<string> => {
    try {
      return (await run('bash', ['-e', '-o', 'pipefail', '-c', substitute(block.text)], { cwd: root, env, timeout: 60_000 })).stdout
    } catch (err) {
      const e = err as { stdout?: string, stderr?: string, message: string }
      throw new Error(`README.md line ${block.line} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\nserver:\n${tail(server?.output() ?? '')}`)
    }
  }
  const parse = (text: string): unknown => { try { return JSON.parse(text) } catch { return undefined } }

  for (const [i, block] of blocks.entries()) {
    const where = `README.md line ${block.line}`
    switch (block.marker) {
      case 'server': {
        server = background(t, 'server', substitute(block.text), env)
        const started = server
        // the first start bundles the server and migrates the database
        await poll('the server to answer on its health route', 120_000, async () => {
          if (started.child.exitCode !== null) throw new Error(`the server exited:\n${started.output()}`)
          return await statusOf(`http://127.0.0.1:${serverPort}/observers/runtime/health`) === 200 ? true : undefined
        }, () => tail(started.output()))
        const token = /Admin token[^\n]*\n\s*(\S+)/.exec(started.output())?.[1]
        t.ok(token, 'the server printed an admin token')
        // what the reader does by hand: export TOKEN=<the admin token npm start printed>
        env.TOKEN = token
        break
      }
      case 'receiver': {
        // Ctrl-C on the receiver running, then the new one
        if (receiver !== undefined) await stop(receiver)
        const started = receiver = background(t, `receiver ${receivers.length + 1}`, substitute(block.text), env)
        receivers.push(started)
        seen = 0
        await poll('the receiver to listen', 30_000, () => started.output().includes('receiver listening on') ? true : undefined, started.output)
        break
      }
      case 'run':
        last = { block, stdout: await shell(block) }
        break
      case 'poll': {
        const sample = blocks[i + 1]
        t.equal(sample?.marker, 'output', `${where}: a poll is followed by the output it waits for`)
        last = await poll(`${where} to answer like line ${sample.line}`, 30_000, async () => {
          const stdout = await shell(block)
          return shapeProblem(parse(sample.text), parse(stdout)) === null ? { block, stdout } : undefined
        }, () => `server:\n${tail(server?.output() ?? '')}`)
        break
      }
      case 'output': {
        t.ok(last, `${where}: an output follows a run`)
        const actual = block.lang === 'json' ? parse(last?.stdout ?? '') : last?.stdout.trim()
        const expected = block.lang === 'json' ? parse(block.text) : block.text.trim()
        if (block.argument === 'exact') t.same(actual, expected, `${where}: the output of line ${last?.block.line}, exactly`)
        else t.equal(shapeProblem(expected, actual), null, `${where}: the output of line ${last?.block.line} has this shape: ${last?.stdout ?? ''}`)
        break
      }
      case 'receiver-output': {
        const current = receiver
        t.ok(current, `${where}: a receiver runs`)
        const document = await poll(`the receiver to print what ${where} shows`, 30_000, () => documentsIn(current?.output() ?? '')[seen], () => current?.output() ?? '')
        seen++
        t.equal(shapeProblem(parse(block.text), document), null, `${where}: the receiver printed this shape: ${JSON.stringify(document)}`)
        break
      }
      case 'file':
        break
      default:
        t.fail(`${where}: unknown marker ${block.marker}`)
    }
  }

  // what the walk-through's words promise, beyond the shapes
  const printed = receivers.flatMap((r) => documentsIn(r.output())) as Array<{ headers: Record<string, string>, event: { data: { customer: string } } }>
  t.same(printed.map((d) => d.event.data.customer), ['ada', 'cy'], 'the receivers handled the orders of 100 or more, each once (not bob\'s 20)')
  for (const { headers } of printed) {
    t.equal(headers['idempotency-key'], headers['webhook-id'], 'Idempotency-Key is the webhook-id')
    t.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, 'a v1 signature')
  }
  const refused = receivers.map((r) => [...r.output().matchAll(/answering 500 to (\S+)/g)].map((m) => m[1]))
  const failing = refused.find((ids) => ids.length > 0) ?? []
  t.equal(failing.length, 3, 'the failing receiver saw the three attempts of the retry policy')
  t.same(new Set(failing), new Set([printed[1]?.headers['webhook-id']]), 'every attempt and the dead-letter retry carried one webhook-id')
  t.ok(printed.every((d) => receivers.some((r) => r.output().includes(`verified ${d.headers['webhook-id']}`))), 'each delivery printed was verified first')

  // the receiver's check is real: a delivery with a wrong signature is refused
  const forged = await statusOf(`http://127.0.0.1:${receiverPort}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
    body: '{"event_id":"forged"}'
  })
  t.equal(forged, 400, 'a forged delivery is answered 400')
  // its line reaches us through a pipe, after the answer
  const said = await poll('the receiver\'s rejection line', 5000, () => /rejected: No matching signature found/.test(receiver?.output() ?? '') ? true : undefined).catch(() => false)
  t.ok(said, 'the receiver says why')

  for (const started of [receiver, server]) if (started !== undefined) await stop(started)
  t.match(server?.output() ?? '', /"msg":"stopping"/, 'the server stopped on SIGTERM')
})

t.test('the host application example registers, captures, runs a custom action and closes', async (t) => {
  const env = { ...cleanEnv(), DATABASE_URL: await freshDatabase(t) }
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'examples/host-app.ts'], { cwd: root, env, timeout: 60_000 })
  t.match(stdout, /booking invoice 1 in the sales ledger \(webhook-id msg_\S+, attempt 1\)/, 'the custom action ran with the observer\'s config')
  t.match(stdout, /booked: \{"id":1,"amount":250,"customer":"ada"\}/, 'the script saw its event and went on to close')
  t.equal(stderr, '', 'nothing on stderr')
})
