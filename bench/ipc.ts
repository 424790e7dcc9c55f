// A tiny request/response protocol over a forked child's IPC channel: the bench drives its child
// processes (the webhook sink, the HTTP load client) with it.
import { fork, type ChildProcess } from 'node:child_process'
import { RUNNING_COMPILED } from './root.js'
import { fileURLToPath } from 'node:url'

interface Request { id: number, cmd: string, args?: unknown }
interface Reply { id: number, result?: unknown, error?: string }

export type Handlers = Record<string, (args: any) => unknown>

/** Child side: answers the parent's calls; exits when the parent goes away. */
export function serve (handlers: Handlers, ready: unknown): void {
  if (process.send === undefined) throw new Error('this file runs as a child of bench/run.ts (it needs an IPC channel)')
  const send = process.send.bind(process)
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd]
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`unknown command ${message.cmd}`)
        return handler(message.args)
      })
      .then((result) => send({ id: message.id, result } satisfies Reply))
      .catch((err: unknown) => send({ id: message.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply))
  })
  // the parent died or closed the channel: nothing is left to serve
  process.on('disconnect', () => process.exit(0))
  // Ctrl-C reaches the whole process group: the parent decides when we stop (it disconnects)
  process.on('SIGINT', () => {})
  send({ id: 0, result: ready } satisfies Reply)
}

export interface Child<R> {
  ready: R
  pid: number
  call: <T>(cmd: string, args?: unknown) => Promise<T>
  /** closes the channel (the child exits) and waits for the exit */
  stop: () => Promise<void>
  /** SIGKILL, no goodbye (a crash); resolves once the child has exited */
  kill: () => Promise<void>
}

// The children run as the bench does: compiled by plain node, or TypeScript through tsx's loader;
// whatever flags the parent itself runs with (a --cpu-prof on the bench must not profile the sink).
export async function forkChild<R> (source: URL): Promise<Child<R>> {
  const file = RUNNING_COMPILED ? new URL(source.href.replace(/\.ts$/, '.js')) : source
  const child: ChildProcess = fork(fileURLToPath(file), [], {
    execArgv: RUNNING_COMPILED ? [] : ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  // a send on a channel that closed meanwhile is reported to the caller, not thrown at the process
  child.on('error', () => {})
  const pending = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  let next = 1
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true
    for (const p of pending.values()) p.reject(new Error(`${file.pathname} exited`))
    pending.clear()
    resolve()
  }))
  const ready = new Promise<R>((resolve, reject) => {
    pending.set(0, { resolve, reject })
  })
  child.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id)
    if (waiter === undefined) return
    pending.delete(reply.id)
    if (reply.error !== undefined) waiter.reject(new Error(reply.error))
    else waiter.resolve(reply.result)
  })
  return {
    ready: await ready,
    pid: child.pid as number,
    call: async <T>(cmd: string, args?: unknown): Promise<T> => await new Promise<T>((resolve, reject) => {
      if (exited || !child.connected) return reject(new Error(`${file.pathname} has exited`))
      const id = next++
      pending.set(id, { resolve, reject })
      child.send({ id, cmd, args } satisfies Request, (err) => {
        if (err === null) return
        pending.delete(id)
        reject(err)
      })
    }),
    stop: async () => {
      if (exited) return
      if (child.connected) child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exit
      clearTimeout(timer)
    },
    kill: async () => {
      if (exited) return
      child.kill('SIGKILL')
      await exit
    }
  }
}
