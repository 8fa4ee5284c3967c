import { initTRPC } from '@trpc/server';
import type { z } from 'zod';
import { httpStatusOf } from '../errors/http-status.js';
import { shouldRetry, toHangarError } from '../errors/to-hangar-error.js';
import type { Context } from './context.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * A procedure's REST route: `openapi` is what trpc-to-openapi reads to generate the document;
 * `rest` adds what the REST adapter and the document's finishing need.
 */
export interface Meta {
  openapi?: {
    method: HttpMethod;
    path: `/${string}`;
    summary?: string;
    description?: string;
    tags?: string[];
    protect?: boolean;
    contentTypes?: string[];
    requestHeaders?: z.ZodObject;
    successDescription?: string;
  };
  rest?: {
    /** 201: a resource was created (with a Location header). 'accepted': 202 while its operation runs, 200 once done. */
    status?: 201 | 'accepted';
    /** More routes served by the same procedure (PUT beside PATCH). */
    also?: { method: HttpMethod; path: `/${string}` }[];
    /** Query parameters accepted under another name (`server_id` for `host_id`). */
    query_aliases?: Record<string, string>;
    /** Body fields accepted under an older API's name (`memory` for `memory_mb`); deprecated in the document. */
    body_aliases?: Readonly<Record<string, string>>;
  };
}

export const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Stack traces never leave the server.
    isDev: false,
    // Subscriptions (events.watch) are SSE streams: a ping keeps proxies from closing an idle one.
    sse: { ping: { enabled: true, intervalMs: 15_000 } },
    errorFormatter({ shape, error, ctx }) {
      const err = toHangarError(error);
      return {
        message: err.message,
        code: shape.code,
        data: {
          code: err.code,
          httpStatus: httpStatusOf(err) as number,
          path: shape.data.path,
          request_id: ctx?.info.requestId ?? null,
          should_retry: shouldRetry(err),
          ...err.details,
        },
      };
    },
  });

export const router = t.router;
export const middleware = t.middleware;
