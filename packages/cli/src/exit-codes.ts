import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  HangarError,
  NotFoundError,
  OperationFailedError,
  PermissionDeniedError,
  TimeoutError,
  ValidationError,
} from '@hangar/sdk';
import { UsageError } from './usage-error.js';

/**
 * What `hgr` exits with. Scripts branch on these, so they are part of the interface: a number
 * once given a meaning keeps it.
 */
export const ExitCode = {
  OK: 0,
  /** Anything else: a server error, an unexpected failure. */
  FAILURE: 1,
  /** Bad flags or arguments, or input the server refused as invalid (400, 422). */
  USAGE: 2,
  /** No such VM, image, operation, key or host (404). */
  NOT_FOUND: 3,
  /** Missing, wrong or revoked credentials (401), or a role too weak or a quota reached (403). */
  AUTH: 4,
  /** The VM's (or image's) state does not allow it now, or the name is taken (409). */
  CONFLICT: 5,
  /** The operation (or image download) ended, but did not succeed. */
  OPERATION_FAILED: 6,
  /** A wait ran past `--wait-timeout`, or the server did not answer in time. */
  TIMEOUT: 7,
  /** The server could not be reached. */
  UNREACHABLE: 8,
  /** Ctrl-C: a wait was stopped (the operation goes on), or a transfer was cancelled. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code an error of the SDK (or any other) stands for. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof OperationFailedError) return ExitCode.OPERATION_FAILED;
  if (err instanceof HangarError && err.code === 'IMAGE_FAILED') return ExitCode.OPERATION_FAILED;
  if (err instanceof ValidationError || err instanceof UsageError) return ExitCode.USAGE;
  if (err instanceof NotFoundError) return ExitCode.NOT_FOUND;
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) return ExitCode.AUTH;
  if (err instanceof ConflictError) return ExitCode.CONFLICT;
  if (err instanceof TimeoutError) return ExitCode.TIMEOUT;
  if (err instanceof ConnectionError) return ExitCode.UNREACHABLE;
  return ExitCode.FAILURE;
}

/** The table in `hgr --help` and the README. */
export const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    failure (a server error, anything unexpected)
  2    usage: bad flags or arguments, or input the server refused as invalid
  3    not found (VM, image, operation, key, host)
  4    unauthenticated (missing, wrong or revoked key) or forbidden (role, quota)
  5    conflict: the VM's state does not allow it now, the name is taken, the image is in use
  6    the operation (or image download) ended without succeeding
  7    timed out (a wait ran past --wait-timeout)
  8    the server could not be reached
  130  interrupted (Ctrl-C): a wait stopped, the operation itself goes on`;
