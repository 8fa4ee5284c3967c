import type { ErrorCode } from '@hangar/server';
import { TRPCClientError } from '@trpc/client';

/**
 * Every `code` an error of the SDK can carry: the server's (docs/api.md lists them), and the
 * SDK's own for what never reached an answer: `CONNECTION`, `TIMEOUT`, `OPERATION_FAILED` (a
 * waited-for operation ended unsuccessfully), `IMAGE_FAILED`, and `HTTP_<status>` for an answer
 * that was not Hangar's (a proxy's error page).
 */
export type HangarErrorCode = ErrorCode | 'CONNECTION' | 'TIMEOUT' | 'OPERATION_FAILED' | 'IMAGE_FAILED' | `HTTP_${number}`;

export interface ErrorInit {
  status: number | null;
  code: HangarErrorCode;
  request_id?: string | null;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Every error the SDK throws. `code` is Hangar's stable code (VM_NOT_FOUND, INVALID_STATE, …). */
export class HangarError extends Error {
  override name = 'HangarError';
  readonly status: number | null;
  readonly code: HangarErrorCode;
  readonly request_id: string | null;
  /** Everything else the server said: for conflicts `status`, `allowed_actions`, `operation_id`. */
  readonly details: Record<string, unknown>;

  constructor(message: string, init: ErrorInit) {
    super(message, { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.request_id = init.request_id ?? null;
    this.details = init.details ?? {};
  }

  /** The server's word on whether repeating the request can succeed (`should_retry`, `x-should-retry`), when it said. */
  get shouldRetry(): boolean | null {
    const hint = this.details.should_retry;
    return typeof hint === 'boolean' ? hint : null;
  }
}

/** 400 (and 422): the request itself is wrong; `fields` says where. */
export class ValidationError extends HangarError {
  override name = 'ValidationError';
  get fields(): { path: string; message: string }[] {
    return (this.details.fields as { path: string; message: string }[] | undefined) ?? [];
  }
}
/** 401: missing, wrong, expired or revoked credentials. */
export class AuthenticationError extends HangarError {
  override name = 'AuthenticationError';
}
/** 403: authenticated, but the role is too weak. */
export class PermissionDeniedError extends HangarError {
  override name = 'PermissionDeniedError';
}
/** 404: no such VM (or not in your project), operation, key… */
export class NotFoundError extends HangarError {
  override name = 'NotFoundError';
}
/** 409: the VM's state does not allow this now. */
export class ConflictError extends HangarError {
  override name = 'ConflictError';
  /** The VM's status when the request was refused. */
  get vmStatus(): string | undefined {
    return this.details.status as string | undefined;
  }
  get allowedActions(): string[] {
    return (this.details.allowed_actions as string[] | undefined) ?? [];
  }
  /** The operation in the way, if one is in flight. */
  get operationId(): string | null {
    return (this.details.operation_id as string | null | undefined) ?? null;
  }
  /** Whether the same request may succeed later (once the operation in flight is done). */
  get retryable(): boolean {
    return this.details.retryable === true;
  }
}
/** 429: slow down; `retryAfterSeconds` says how long. */
export class RateLimitError extends HangarError {
  override name = 'RateLimitError';
  get retryAfterSeconds(): number | null {
    return (this.details.retry_after_s as number | undefined) ?? null;
  }
}
/** 5xx: the server (or the hypervisor or database behind it) failed. */
export class ServerError extends HangarError {
  override name = 'ServerError';
}
/** The server could not be reached. */
export class ConnectionError extends HangarError {
  override name = 'ConnectionError';
}
/** A call, or a wait, ran past its timeout. */
export class TimeoutError extends HangarError {
  override name = 'TimeoutError';
}
/** With `wait: true`: the operation ended, but not in success. `operation` says why. */
export class OperationFailedError extends HangarError {
  override name = 'OperationFailedError';
  constructor(
    message: string,
    readonly operation: { id: string; action: string; status: string; error: string | null },
    readonly vm: unknown,
  ) {
    super(message, { status: null, code: 'OPERATION_FAILED', details: { operation_id: operation.id } });
  }
}

const BY_STATUS: Record<number, new (m: string, i: ErrorInit) => HangarError> = {
  400: ValidationError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: ValidationError,
  422: ValidationError,
  429: RateLimitError,
};

interface ServerErrorData {
  code?: ErrorCode;
  httpStatus?: number;
  request_id?: string | null;
  [key: string]: unknown;
}

/**
 * The server could not be reached. It names the URL it tried: a client that took the default
 * (`http://127.0.0.1:8080`) where the server listens elsewhere says so at once.
 */
export function unreachable(server: string | undefined, message: string, cause: unknown): ConnectionError {
  const at = server ? ` at ${server}` : '';
  return new ConnectionError(`Cannot reach the Hangar server${at}: ${message}`, { status: null, code: 'CONNECTION', cause });
}

/** Any failure of a call to the typed error for it; `server`: the base URL it was sent to. */
export function toSdkError(err: unknown, server?: string): HangarError {
  if (err instanceof HangarError) return err;
  if (err instanceof TRPCClientError) {
    const data = (err.data ?? null) as ServerErrorData | null;
    const response = (err.meta as { response?: Response } | undefined)?.response;
    const status = data?.httpStatus ?? response?.status ?? null;
    if (status === null) return unreachable(server, err.message, err);
    const { code, httpStatus: _status, request_id, path: _path, ...details } = data ?? {};
    const Kind = BY_STATUS[status] ?? (status >= 500 ? ServerError : HangarError);
    return new Kind(err.message, {
      status,
      code: code ?? `HTTP_${status}`,
      request_id: request_id ?? response?.headers.get('x-request-id') ?? null,
      details,
      cause: err,
    });
  }
  return unreachable(server, err instanceof Error ? err.message : String(err), err);
}

/** A REST error answer (`{detail, code, …}`) as the typed error for its status. */
export async function fromRestResponse(res: Response): Promise<HangarError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  const { detail, code, request_id, ...details } = body;
  const hint = res.headers.get('x-should-retry');
  if (hint === 'true' || hint === 'false') details.should_retry = hint === 'true';
  const Kind = BY_STATUS[res.status] ?? (res.status >= 500 ? ServerError : HangarError);
  return new Kind(typeof detail === 'string' ? detail : `HTTP ${res.status}`, {
    status: res.status,
    code: typeof code === 'string' ? (code as ErrorCode) : `HTTP_${res.status}`,
    request_id: typeof request_id === 'string' ? request_id : res.headers.get('x-request-id'),
    details,
  });
}
