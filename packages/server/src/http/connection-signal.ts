import type { Context as HonoContext } from 'hono';
import { nodeBindings } from './node-bindings.js';

/**
 * Aborted when the client goes away. Reading `c.req.raw.signal` would make @hono/node-server
 * build a full fetch Request for every call (a third of a cheap GET's time); the Node response's
 * `close` says the same thing for free.
 */
export function connectionSignal(c: HonoContext): AbortSignal {
  const { outgoing } = nodeBindings(c);
  if (!outgoing) return c.req.raw.signal;
  const ctl = new AbortController();
  // Asked for late (see Context.client_gone): the client may already have gone.
  if (outgoing.destroyed && !outgoing.writableFinished) {
    ctl.abort(new Error('the client closed the connection'));
    return ctl.signal;
  }
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) ctl.abort(new Error('the client closed the connection'));
  });
  return ctl.signal;
}
