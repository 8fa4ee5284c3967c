import { initTRPC } from '@trpc/server';
import type { Context } from './context.js';
import { shouldRetry, toHangarError } from '../errors.js';

export interface Meta {
  /** Filled in for the REST mapping (OpenAPI), when routes are generated from procedures. */
  openapi?: Record<string, unknown>;
}

export const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Stack traces never leave the server.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const err = toHangarError(error);
      return {
        message: err.message,
        code: shape.code,
        data: {
          code: err.code,
          httpStatus: err.httpStatus,
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
