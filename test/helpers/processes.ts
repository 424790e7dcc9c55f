// Runtimes in child processes (to kill them for real) and waiting for their readiness.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const script = fileURLToPath(new URL('../fixtures/runtime-process.ts', import.meta.url))

/**
 * The environment for a child that loads the plugin's sources through tsx: it records no coverage.
 * tsx compiles them differently from tap's loader, and tap merges coverage by file and offset, so
 * one such child's report scrambles the whole suite's (lines covered by every test read as missed).
 */
export function withoutCoverage (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
}

export async function startRuntimeProcess (t: Test, url: string, schema: string, listenerId = 'default', runtime: object = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, url, schema, listenerId, JSON.stringify(runtime)], { stdio: ['ignore', 'pipe', 'inherit'], env: withoutCoverage(process.env) })
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
