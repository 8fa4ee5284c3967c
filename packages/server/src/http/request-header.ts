import type { HttpBindings } from '@hono/node-server';
import type { Context as HonoContext } from 'hono';

/**
 * A request header by its lower-case name. `c.req.header()` makes @hono/node-server build a
 * fetch `Headers` of every header the request has (a tenth of a cheap GET's time); Node has
 * already parsed them into `incoming.headers`, which say the same (a repeated header joined
 * by ", ", as `Headers` joins it; Node keeps only the first of a repeated `Authorization`).
 * A request that did not come through Node's server (`app.request` in tests, a dialect's
 * re-dispatch) has no `incoming`: its own headers are read.
 */
export function requestHeader(c: HonoContext, name: string): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
