import { randomUUID } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { MiddlewareHandler } from 'hono';
import type { Log } from '../logger.js';
import type { RequestInfo } from '../trpc/context.js';

export type AppEnv = { Variables: { info: RequestInfo } };

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's `x-request-id` when it is sane), answers with it in
 * the `x-request-id` header, and logs one line per request with the same id.
 */
export function requestContext(log: Log): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
    let ip = 'unknown';
    try {
      ip = getConnInfo(c).remote.address ?? 'unknown';
    } catch {
      // not served by @hono/node-server (app.request in tests)
    }
    const info: RequestInfo = { requestId, ip, principal: null, procedure: null, logins: 0 };
    c.set('info', info);
    try {
      await next();
    } finally {
      c.res.headers.set('x-request-id', requestId);
      log.info(
        {
          request_id: requestId,
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          duration_ms: Math.round((performance.now() - started) * 10) / 10,
          principal: info.principal
            ? `${info.principal.username}${info.principal.api_key_id ? ` (key ${info.principal.api_key_id})` : ''}`
            : null,
          project_id: info.principal?.project_id ?? null,
          procedure: info.procedure,
        },
        'request',
      );
    }
  };
}
