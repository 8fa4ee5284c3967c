import type { ErrorCode, HangarError } from '@hangar/core';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The HTTP status of each error code (tRPC answers carry it too, as `httpStatus`). */
export const HTTP_STATUS = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  QUOTA_EXCEEDED: 403,
  NOT_FOUND: 404,
  VM_NOT_FOUND: 404,
  OPERATION_NOT_FOUND: 404,
  INVALID_STATE: 409,
  OPERATION_IN_PROGRESS: 409,
  NAME_TAKEN: 409,
  IMAGE_IN_USE: 409,
  INVALID_ARCHIVE: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED: 409,
  VERSION_CONFLICT: 409,
  IDEMPOTENCY_MISMATCH: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  HOST_UNAVAILABLE: 503,
  DATABASE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  INSUFFICIENT_CAPACITY: 503,
} as const satisfies Record<ErrorCode, ContentfulStatusCode>;

export function httpStatusOf(err: HangarError): ContentfulStatusCode {
  return HTTP_STATUS[err.code];
}
