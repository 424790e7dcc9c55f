// Shared pieces of the route tests: authenticated inject calls and observer bodies.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { AUTH } from '../helper.js'

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** An authenticated call to the admin API; `url` is relative to /observers. */
export async function call (app: FastifyInstance, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method, url: `/observers${url}`, headers: { ...AUTH, ...headers } }
  if (payload !== undefined) options.payload = payload as InjectOptions['payload']
  return await app.inject(options)
}

let counter = 0

/** A valid create body: a log action unless `actions` is given. */
export function observerBody (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: `observer-${++counter}`, actions: [{ type: 'log' }], ...overrides }
}

/** Creates an observer through the API and returns the served body. */
export async function createObserver (app: FastifyInstance, overrides: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<any> {
  const res = await call(app, 'POST', '', observerBody(overrides), headers)
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Strings that break naive SQL building; every text filter must treat them as plain values. */
export const INJECTIONS = [
  "' OR '1'='1",
  "x'; DROP TABLE tb_observer; --",
  '"; select pg_sleep(1); --',
  "') OR 1=1 --",
  '\\x27 union select * from pg_user --'
]
