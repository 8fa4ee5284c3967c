import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './request-context.js';

/**
 * Put before the handler of each GET route that streams or starts work (the event stream,
 * exports, the agents' image and disk downloads): HEAD is refused (405). Hono answers HEAD by running the GET route and dropping its body,
 * which would take what no one reads: a watch slot and its feed until shutdown, an export
 * operation. (tRPC answers HEAD itself, with 204.)
 */
export const refuseHead: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'HEAD') return c.body(null, 405, { allow: 'GET' });
  await next();
};
