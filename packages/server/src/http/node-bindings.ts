import type { HttpBindings } from '@hono/node-server';
import type { Context as HonoContext } from 'hono';

/**
 * Node's request and response behind a Hono context, when @hono/node-server serves it; none for a
 * request that did not come through Node's server (`app.request` in tests, a dialect's
 * re-dispatch). Read from them, what Node has already parsed costs nothing more; asked of Hono,
 * it costs a fetch `Request` built first.
 */
export function nodeBindings(c: HonoContext): Partial<HttpBindings> {
  return (c.env as Partial<HttpBindings> | undefined) ?? {};
}
