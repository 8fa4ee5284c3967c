import type { Context as HonoContext } from 'hono';
import { shouldRetry, toHangarError } from '../errors.js';
import type { AppEnv } from './request-context.js';

/** Any error as the REST API answers it: `{detail, code, request_id, …}` with its status and retry hints. */
export function restError(c: HonoContext<AppEnv>, err: unknown): Response {
  const e = toHangarError(err);
  return c.json({ detail: e.message, code: e.code, request_id: c.get('info').requestId, ...e.details }, e.httpStatus as 400, {
    'x-should-retry': String(shouldRetry(e)),
    ...(typeof e.details.retry_after_s === 'number' ? { 'retry-after': String(e.details.retry_after_s) } : {}),
  });
}
