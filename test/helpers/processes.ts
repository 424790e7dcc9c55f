// Runtimes in child processes (to kill them for real) and waiting for their readiness.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const script = fileURLToPath(new URL('../fixtures/runtime-process.ts', import.meta.url))

export async function startRuntimeProcess (t: Test, url: string, schema: string, listenerId = 'default', runtime: object = {}): Promise<ChildProcess> {
  // no V8 coverage from these: a process killed with SIGKILL can leave a half-written file behind
  const { NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', script, url, schema, listenerId, JSON.stringify(runtime)], { stdio: ['ignore', 'pipe', 'inherit'], env })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`runtime process exited early with ${code}`)))
    child.stdout?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve() })
  })
  return child
}

export async function kill9 (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}
