import { type ErrorCode, errors, HangarError, isConflict, isDatabaseUnavailable, isHangarError } from '@hangar/core';
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';
import { httpStatusOf } from './http-status.js';

/** Any error to the HangarError a client sees: typed ones pass, validation is collected, the rest is hidden. */
export function toHangarError(err: unknown): HangarError {
  if (isHangarError(err)) return err;
  if (err instanceof TRPCError) {
    const cause = err.cause;
    // Input that failed its schema is the client's mistake; anything else that fails a schema
    // (an answer failing the output schema, a row the server parsed) is the server's.
    if (cause instanceof ZodError) return err.code === 'BAD_REQUEST' ? errors.fromZod(cause) : errors.internal();
    if (isHangarError(cause)) return cause;
    // tRPC wraps whatever a procedure threw as an internal error; look at what it was.
    if (err.code === 'INTERNAL_SERVER_ERROR') return cause && cause !== err ? toHangarError(cause) : errors.internal();
    return fromTrpc(err);
  }
  if (isDatabaseUnavailable(err)) return errors.databaseUnavailable();
  // A deadlock or serialization failure that outlived the transaction's retries: busy, not broken.
  if (isConflict(err)) return errors.databaseUnavailable();
  return errors.internal();
}

function fromTrpc(err: TRPCError): HangarError {
  const byTrpc: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorCode>> = {
    BAD_REQUEST: 'VALIDATION',
    PARSE_ERROR: 'VALIDATION',
    UNAUTHORIZED: 'UNAUTHENTICATED',
    FORBIDDEN: 'FORBIDDEN',
    NOT_FOUND: 'NOT_FOUND',
    METHOD_NOT_SUPPORTED: 'VALIDATION',
    PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
    TOO_MANY_REQUESTS: 'RATE_LIMITED',
  };
  const code = byTrpc[err.code];
  return code
    ? new HangarError(code, err.message, code === 'VALIDATION' ? { fields: [{ path: '(request)', message: err.message }] } : {})
    : errors.internal();
}

/** Whether repeating the request unchanged can succeed (clients' retry hint). */
export function shouldRetry(err: HangarError): boolean {
  if (typeof err.details.retryable === 'boolean') return err.details.retryable;
  const status = httpStatusOf(err);
  return status === 429 || status >= 500;
}
