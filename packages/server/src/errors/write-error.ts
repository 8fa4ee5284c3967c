import { ERROR_CODES } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/request-context.js';
import { httpStatusOf } from './http-status.js';
import { shouldRetry, toHangarError } from './to-hangar-error.js';

/** How the REST routes answer an error (tRPC carries the same facts in its own envelope). */
export const ErrorBody = z.looseObject({
  detail: z
    .string()
    .meta({ description: 'What went wrong, in a sentence', example: 'VM with ID 6c7e3b27-7159-4e0a-9e30-3d44284574cd not found' }),
  code: z.enum(ERROR_CODES),
  request_id: z.string().nullable(),
  fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  status: z.string().optional().meta({ description: 'For conflicts: the VM status' }),
  allowed_actions: z.array(z.string()).optional(),
  operation_id: z.string().nullable().optional().meta({ description: 'For conflicts: the operation in the way' }),
  retryable: z.boolean().optional(),
  retry_after_s: z.number().optional(),
});

/**
 * Every error answer outside tRPC goes through here (REST routes, streams, unknown routes,
 * body limits, unhandled errors): `{detail, code, request_id, …}` with its status and the retry
 * hints `x-should-retry` and `retry-after`.
 */
export function writeError(c: HonoContext<AppEnv>, err: unknown): Response {
  const e = toHangarError(err);
  const status = httpStatusOf(e);
  // Every retryable 503 says when to come back (a second, unless the error knows better): clients and load balancers back off by it.
  const retryAfter =
    typeof e.details.retry_after_s === 'number' ? e.details.retry_after_s : status === 503 && shouldRetry(e) ? 1 : undefined;
  return c.json({ detail: e.message, code: e.code, request_id: c.get('info')?.requestId ?? null, ...e.details }, status, {
    'x-should-retry': String(shouldRetry(e)),
    ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}),
  });
}
