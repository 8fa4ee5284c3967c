import { errors } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';

/** A request's body as an object: JSON, or a urlencoded form; empty is `{}`. Anything else is a 400. */
export async function readBody(c: HonoContext<AppEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  const type = requestHeader(c, 'content-type') ?? '';
  if (type.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (type && !type.includes('json')) {
    throw errors.validation(`Unsupported content type ${type}: send application/json`, [
      { path: '(body)', message: 'unsupported content type' },
    ]);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw errors.validation('The request body is not valid JSON', [{ path: '(body)', message: 'malformed JSON' }]);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw errors.validation('The request body must be a JSON object', [{ path: '(body)', message: 'expected an object' }]);
  }
  return body as Record<string, unknown>;
}
