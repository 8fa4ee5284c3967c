import type { VmAction } from './state-machine.js';
import type { VmStatus } from './status.js';

/**
 * Stable error codes: clients branch on the code, never on the message. Core knows no
 * transport: the server maps each code to its HTTP status and tRPC code.
 */
export const ERROR_CODES = [
  'VALIDATION',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'QUOTA_EXCEEDED',
  'NOT_FOUND',
  'VM_NOT_FOUND',
  'OPERATION_NOT_FOUND',
  'INVALID_STATE',
  'OPERATION_IN_PROGRESS',
  'NAME_TAKEN',
  'IMAGE_IN_USE',
  'INVALID_ARCHIVE',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED',
  'VERSION_CONFLICT',
  'IDEMPOTENCY_MISMATCH',
  'RATE_LIMITED',
  'INTERNAL',
  'HOST_UNAVAILABLE',
  'DATABASE_UNAVAILABLE',
  'INSUFFICIENT_CAPACITY',
  /** This API process is stopping: come back (to it once restarted, or to another). */
  'SHUTTING_DOWN',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

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
  routeNotFound: (method: string, path: string) => new HangarError('NOT_FOUND', `No route for ${method} ${path}`),
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
  unauthenticated: (message: string) => new HangarError('UNAUTHENTICATED', message),
  forbidden: (message: string) => new HangarError('FORBIDDEN', message),
  /** A name another user or project has (VMs have `nameTaken`). */
  duplicate: (message: string) => new HangarError('NAME_TAKEN', message, { retryable: false }),
  rateLimited: (message: string, retry_after_s?: number) =>
    new HangarError('RATE_LIMITED', message, { ...(retry_after_s !== undefined ? { retry_after_s } : {}), retryable: true }),
  payloadTooLarge: (message: string, details: ErrorDetails = {}) => new HangarError('PAYLOAD_TOO_LARGE', message, details),
  invalidArchive: (message: string) => new HangarError('INVALID_ARCHIVE', message),
  insufficientCapacity: (message: string, details: ErrorDetails = {}) =>
    new HangarError('INSUFFICIENT_CAPACITY', message, { retryable: true, ...details }),
  invalidState: (message: string, details: ErrorDetails) => new HangarError('INVALID_STATE', message, details),
  operationInProgress: (message: string, details: ErrorDetails) => new HangarError('OPERATION_IN_PROGRESS', message, details),
  quotaExceeded: (message: string, details: ErrorDetails) => new HangarError('QUOTA_EXCEEDED', message, { ...details, retryable: false }),
  imageInUse: (message: string, details: ErrorDetails) => new HangarError('IMAGE_IN_USE', message, details),
  shuttingDown: () =>
    new HangarError('SHUTTING_DOWN', 'This server is shutting down; try again shortly', { retryable: true, retry_after_s: 1 }),
  databaseUnavailable: () => new HangarError('DATABASE_UNAVAILABLE', 'The database is unavailable; try again shortly', { retryable: true }),
  /** A server fault; what the client sees of it (details stay in the log). */
  internal: (message = 'Internal server error') => new HangarError('INTERNAL', message),
  /** The host's driver lacks the capability the request needs (exports on a driver without archives). */
  unsupported: (what: string, driver: string) =>
    new HangarError('UNSUPPORTED', `${what} is not supported by the ${driver} driver of this host`, { retryable: false }),
  validation: (message: string, fields: { path: string; message: string }[] = []) => new HangarError('VALIDATION', message, { fields }),
  /** A schema's refusal, naming each failing field (the first five in the message). */
  fromZod: (err: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }, what = 'input') => {
    const fields = err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    const summary = fields
      .slice(0, 5)
      .map((f) => `${f.path}: ${f.message}`)
      .join('; ');
    return new HangarError('VALIDATION', `Invalid ${what}: ${summary}`, { fields });
  },
};
