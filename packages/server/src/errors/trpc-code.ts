import type { HangarError } from '@hangar/core';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { httpStatusOf } from './http-status.js';

const TRPC_CODE_BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

/** The tRPC code an error travels under (its HTTP status, in tRPC's words). */
export function trpcCodeOf(err: HangarError): TRPC_ERROR_CODE_KEY {
  return TRPC_CODE_BY_STATUS[httpStatusOf(err)] ?? 'INTERNAL_SERVER_ERROR';
}
