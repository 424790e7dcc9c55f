// A port on 127.0.0.1 that nothing listens on (it was just bound and released): connecting to it
// is refused, the way an endpoint that is down refuses.
import { createServer } from 'node:net'
import { once } from 'node:events'

export async function closedPort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}
