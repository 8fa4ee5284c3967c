import { z } from 'zod';
import type { VmAction } from './state-machine.js';
import type { VmStatus } from './status.js';

/**
 * Stable error codes. The transport maps each to an HTTP status with ERROR_HTTP_STATUS;
 * clients branch on the code, never on the message.
 */
export const ERROR_HTTP_STATUS = {
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
  VERSION_CONFLICT: 409,
  IDEMPOTENCY_MISMATCH: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  HOST_UNAVAILABLE: 503,
  DATABASE_UNAVAILABLE: 503,
  INSUFFICIENT_CAPACITY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_HTTP_STATUS;
export const ERROR_CODES = Object.keys(ERROR_HTTP_STATUS) as ErrorCode[];

export interface ErrorDetails {
  /** For state conflicts: where the VM is and what it allows. */
  status?: VmStatus;
  allowed_actions?: VmAction[];
  operation_id?: string | null;
  /** For validation: each failing field and why. */
  fields?: { path: string; message: string }[];
  /** Whether repeating the same request later can succeed. */
  retryable?: boolean;
  [key: string]: unknown;
}

export class HangarError extends Error {
  override readonly name = 'HangarError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }

  get httpStatus(): number {
    return ERROR_HTTP_STATUS[this.code];
  }

  toJSON() {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isHangarError(err: unknown): err is HangarError {
  return err instanceof HangarError;
}

export const errors = {
  vmNotFound: (id: string) => new HangarError('VM_NOT_FOUND', `VM with ID ${id} not found`),
  operationNotFound: (id: string) => new HangarError('OPERATION_NOT_FOUND', `Operation with ID ${id} not found`),
  notFound: (what: string, id: string) => new HangarError('NOT_FOUND', `${what} with ID ${id} not found`),
  nameTaken: (name: string) => new HangarError('NAME_TAKEN', `A VM named '${name}' already exists in this project`, { retryable: false }),
  versionConflict: (expected: number, actual: number) =>
    new HangarError('VERSION_CONFLICT', `VM is at version ${actual}, not the expected ${expected}`, {
      expected_version: expected,
      version: actual,
      retryable: false,
    }),
  idempotencyMismatch: (key: string) =>
    new HangarError('IDEMPOTENCY_MISMATCH', `Idempotency key '${key}' was already used with a different request`, { retryable: false }),
  hostUnavailable: (reason: string) => new HangarError('HOST_UNAVAILABLE', reason, { retryable: true }),
  validation: (message: string, fields: { path: string; message: string }[] = []) => new HangarError('VALIDATION', message, { fields }),
};

/** How the REST routes answer an error (tRPC carries the same facts in its own envelope). */
export const ErrorBody = z.looseObject({
  detail: z
    .string()
    .meta({ description: 'What went wrong, in a sentence', example: 'VM with ID 6c7e3b27-7159-4e0a-9e30-3d44284574cd not found' }),
  code: z.enum(Object.keys(ERROR_HTTP_STATUS) as [ErrorCode, ...ErrorCode[]]),
  request_id: z.string().nullable(),
  fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  status: z.string().optional().meta({ description: 'For conflicts: the VM status' }),
  allowed_actions: z.array(z.string()).optional(),
  operation_id: z.string().nullable().optional().meta({ description: 'For conflicts: the operation in the way' }),
  retryable: z.boolean().optional(),
  retry_after_s: z.number().optional(),
});
