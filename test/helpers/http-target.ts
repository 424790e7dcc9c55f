// A real HTTP server on 127.0.0.1, port 0, recording every request it receives: the target of
// webhook, Slack and runtime tests. Closed at teardown.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { guardAgainstLeaks } from './leak-guard.js'

guardAgainstLeaks()

export interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
  /** the body parsed as JSON, or undefined */
  json: any
  at: number
}

export type Responder = (request: Received, res: ServerResponse) => void

export interface HttpTarget {
  /** `http://127.0.0.1:<port>` */
  url: string
  port: number
  received: Received[]
  /** decides each answer (default 200 "ok"); may be replaced while the test runs */
  respond: Responder
  /** TCP connections accepted, whether or not a request followed */
  connections: () => number
  /** resolves once `n` requests have arrived */
  waitFor: (n: number, ms?: number) => Promise<Received[]>
}

export async function startHttpTarget (t: Test, respond: Responder = (_req, res) => { res.writeHead(200).end('ok') }): Promise<HttpTarget> {
  const waiters: Array<{ n: number, resolve: () => void }> = []
  let connections = 0
  const target: HttpTarget = {
    url: '',
    port: 0,
    received: [],
    respond,
    connections: () => connections,
    waitFor: async (n, ms = 10_000) => {
      if (target.received.length < n) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the target got ${target.received.length} of ${n} requests`)), ms)
          waiters.push({ n, resolve: () => { clearTimeout(timer); resolve() } })
        })
      }
      return target.received
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try { json = JSON.parse(body) } catch { json = undefined }
      const received: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json, at: Date.now() }
      target.received.push(received)
      target.respond(received, res)
      for (const w of waiters.filter((w) => target.received.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    })
  })
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  target.port = (server.address() as AddressInfo).port
  target.url = `http://127.0.0.1:${target.port}`
  t.teardown(async () => {
    // responders that never answer (timeout tests) leave sockets open: close them, then the server
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return target
}
