// A real HTTP server on 127.0.0.1, port 0, recording what it receives: the target of webhook tests.
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface ReceivedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface HttpTarget {
  /** `http://127.0.0.1:<port>` */
  origin: string
  port: number
  requests: ReceivedRequest[]
  /** TCP connections accepted, whether or not a request followed. */
  connections: () => number
}

export type Responder = (request: ReceivedRequest, res: ServerResponse) => void

/** Starts a server answering with `respond` (default 200 "ok"); it is closed at teardown. */
export async function startHttpTarget (t: Test, respond: Responder = (_req, res) => { res.end('ok') }): Promise<HttpTarget> {
  const requests: ReceivedRequest[] = []
  let connections = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(request)
      respond(request, res)
    })
  })
  server.on('connection', () => { connections++ })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    // Responders that never answer (timeout tests) leave sockets open: close them, then the server.
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })
  const { port } = server.address() as { port: number }
  return { origin: `http://127.0.0.1:${port}`, port, requests, connections: () => connections }
}
