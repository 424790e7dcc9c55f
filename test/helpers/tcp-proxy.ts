// A TCP proxy on 127.0.0.1, port 0, in front of a real server. While its answers are held, what the
// server sends back is kept and delivered only on release: a request reaches the server and is
// acted on, but its answer (a JetStream publish ack, say) comes too late. Closed at teardown.
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { guardAgainstLeaks } from './leak-guard.js'

guardAgainstLeaks()

export interface TcpProxy {
  port: number
  /** keep what the server sends from reaching the clients */
  hold: () => void
  /** deliver what was kept, and pass everything on again */
  release: () => void
  /** connections the clients opened so far */
  connections: () => number
}

export async function startTcpProxy (t: Test, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const pairs: Array<{ client: Socket, kept: Buffer[] }> = []
  let holding = false
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    const pair = { client, kept: [] as Buffer[] }
    pairs.push(pair)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => { client.destroy(); upstream.destroy() })
      socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
    }
    client.on('data', (chunk: Buffer) => { upstream.write(chunk) })
    upstream.on('data', (chunk: Buffer) => {
      if (holding) pair.kept.push(chunk)
      else client.write(chunk)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    server.close()
    await once(server, 'close')
  })
  return {
    port: (server.address() as AddressInfo).port,
    hold: () => { holding = true },
    release () {
      holding = false
      for (const pair of pairs) {
        for (const chunk of pair.kept.splice(0)) if (!pair.client.destroyed) pair.client.write(chunk)
      }
    },
    connections: () => pairs.length
  }
}
