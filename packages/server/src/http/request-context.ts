import { randomUUID } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context as HonoContext, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Log } from '../logger.js';
import type { RequestMetrics } from '../metrics/request-metrics.js';
import type { RequestInfo } from '../trpc/context.js';
import { accessLog } from './access-log.js';
import { nodeBindings } from './node-bindings.js';
import { requestHeader } from './request-header.js';

export type AppEnv = { Variables: { info: RequestInfo } };

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What a request is counted under when no procedure ran: the pattern of the route that answered
 * (`/healthz`, `/docs/assets/:file`, `/trpc/*` for an unknown procedure), never its URL, so the
 * label's values stay few; a path no route knows is `unmatched`.
 */
function routeLabel(c: HonoContext<AppEnv>): string {
  const path = matchedRoutes(c)[c.req.routeIndex]?.path;
  // `/*` is this middleware's own pattern: nothing else matched.
  return !path || path === '/*' || path === '*' ? 'unmatched' : path;
}

/**
 * Gives every request an id (the caller's `x-request-id` when it is sane), answers with it in
 * the `x-request-id` header, logs one line per request with the same id, and records it in
 * `metrics` by its procedure and status.
 */
/**
 * `shutdown`: once aborted, every answer closes its connection; a kept-alive one would otherwise
 * carry the next request in and hold the stopping server open (a watcher reconnecting at once).
 */
export function requestContext(log: Log, metrics?: RequestMetrics, shutdown?: AbortSignal): MiddlewareHandler<AppEnv> {
  const writeAccessLine = accessLog(log);
  return async (c, next) => {
    const started = performance.now();
    const asked = requestHeader(c, 'x-request-id');
    const requestId = asked && SAFE_ID.test(asked) ? asked : randomUUID();
    let ip = 'unknown';
    try {
      ip = getConnInfo(c).remote.address ?? 'unknown';
    } catch {
      // not served by @hono/node-server (app.request in tests)
    }
    const info: RequestInfo = { requestId, ip, principal: null, procedure: null, logins: 0 };
    c.set('info', info);
    // On Node's server the headers go on its response, which merges them under the handler's
    // own when it writes them: setting them on the handler's Response instead would make
    // @hono/node-server build a fetch `Headers` for it and leave its fast path.
    const { outgoing } = nodeBindings(c);
    const answerHeader = (name: string, value: string) => {
      if (!outgoing) c.res.headers.set(name, value);
      else if (!outgoing.headersSent) outgoing.setHeader(name, value);
    };
    if (outgoing) answerHeader('x-request-id', requestId);
    try {
      await next();
    } finally {
      if (!outgoing) answerHeader('x-request-id', requestId);
      if (shutdown?.aborted) answerHeader('connection', 'close');
      const ms = performance.now() - started;
      metrics?.observe(info.procedure ?? routeLabel(c), c.res.status, ms / 1000);
      writeAccessLine({
        request_id: requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        duration_ms: Math.round(ms * 10) / 10,
        principal: info.principal
          ? `${info.principal.username}${info.principal.api_key_id ? ` (key ${info.principal.api_key_id})` : ''}`
          : null,
        project_id: info.principal?.project_id ?? null,
        procedure: info.procedure,
      });
    }
  };
}
