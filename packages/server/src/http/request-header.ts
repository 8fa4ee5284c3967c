import type { Context as HonoContext } from 'hono';
import { nodeBindings } from './node-bindings.js';

/**
 * A request header by its lower-case name. `c.req.header()` makes @hono/node-server build a
 * fetch `Headers` of every header the request has (a tenth of a cheap GET's time); Node has
 * already parsed them. A repeated header is read as `Headers` reads it, every value joined by
 * ", " (`headersDistinct`; Node's `headers` keeps only the first of some, `Authorization`
 * among them, and two credentials must be refused, not the first one taken). A request that
 * did not come through Node's server (`app.request` in tests, a dialect's re-dispatch) has no
 * `incoming`: its own headers are read.
 */
export function requestHeader(c: HonoContext, name: Lowercase<string>): string | undefined {
  const { incoming } = nodeBindings(c);
  if (!incoming) return c.req.header(name);
  return incoming.headersDistinct[name]?.join(', ');
}
