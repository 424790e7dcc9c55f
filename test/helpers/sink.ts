// A real webhook target on 127.0.0.1, port 0, recording every request it receives.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
  json: any
  at: number
}

export interface Sink {
  url: string
  received: Received[]
  /** decides each answer; default 200 */
  respond: (req: Received, res: ServerResponse) => void
  /** resolves once `n` requests have arrived */
  waitFor: (n: number, ms?: number) => Promise<Received[]>
}

export async function startSink (t: Test): Promise<Sink> {
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const sink: Sink = {
    url: '',
    received: [],
    respond: (_req, res) => { res.writeHead(200).end('ok') },
    waitFor: async (n, ms = 10_000) => {
      if (sink.received.length < n) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`sink got ${sink.received.length} of ${n} requests`)), ms)
          waiters.push({ n, resolve: () => { clearTimeout(timer); resolve() } })
        })
      }
      return sink.received
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      let json: unknown
      try { json = JSON.parse(body) } catch { json = undefined }
      const received: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json, at: Date.now() }
      sink.received.push(received)
      sink.respond(received, res)
      for (const w of waiters.filter((w) => sink.received.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return sink
}
