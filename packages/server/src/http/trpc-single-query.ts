import { getErrorShape, getHTTPStatusCode, getTRPCErrorFromUnknown, transformTRPCResponse } from '@trpc/server/unstable-core-do-not-import';
import type { Context as HonoContext, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { appRouter } from '../router.js';
import type { Context } from '../trpc/context.js';
import { callProcedure, procedureAt } from '../trpc/direct-call.js';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';

const PREFIX = '/trpc/';
/** What tRPC's fetch adapter puts on every answer. */
const VARY = 'trpc-accept, accept';

/**
 * One tRPC query by GET (`/trpc/vms.get?input=<JSON>`), the SDK's most frequent call, answered
 * without tRPC's fetch adapter: the adapter wants a full fetch Request, which @hono/node-server
 * builds (with its AbortSignal) only when asked, and goes through its batching and streaming
 * machinery; together they cost as much as the query itself. The same procedure runs, with all
 * its middlewares (errors, authentication, role, input and output validation), and the answer
 * is made by tRPC's own functions (its error shape, status and response transform), so it is
 * what the adapter would have answered. Anything else (batches, mutations, subscriptions,
 * streaming, an input that is not JSON, an escaped path) goes on to the adapter.
 */
export function trpcSingleQuery(makeContext: (c: HonoContext<AppEnv>) => Context): MiddlewareHandler<AppEnv> {
  const config = appRouter._def._config;
  return async (c, next) => {
    if (c.req.method !== 'GET') return next();
    const path = c.req.path.slice(PREFIX.length);
    const procedure = procedureAt(path);
    if (procedure?._def.type !== 'query') return next();
    const query = c.req.queries();
    if (Object.keys(query).some((k) => k !== 'input') || (query.input?.length ?? 0) > 1) return next();
    if (requestHeader(c, 'trpc-accept') !== undefined || requestHeader(c, 'accept')?.includes('application/jsonl')) return next();
    let input: unknown;
    const raw = query.input?.[0];
    if (raw !== undefined) {
      try {
        input = JSON.parse(raw);
      } catch {
        return next();
      }
    }
    const ctx = makeContext(c);
    let body: Parameters<typeof transformTRPCResponse>[1];
    let status: ContentfulStatusCode = 200;
    try {
      body = { result: { data: await callProcedure(path, procedure, ctx, input) } };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      const shaped = { error: getErrorShape({ config, ctx, error, input, path, type: 'query' }) };
      status = getHTTPStatusCode(shaped, [error]) as ContentfulStatusCode;
      body = shaped;
    }
    return c.body(JSON.stringify(transformTRPCResponse(config, body)), status, { 'content-type': 'application/json', vary: VARY });
  };
}
