import { ERROR_CODES, type ErrorCode, errors, HangarError } from '@hangar/core';
import { z } from 'zod';
import { toHangarError } from '../../errors/to-hangar-error.js';
import type { ErrorDialect } from '../dialect.js';

/**
 * Errors as the earlier Flask API answered them: `{"error": "…"}`. A refused body and an
 * action the VM's state does not allow are 400, an unknown VM 404; the rest keep the native
 * status. The native code and request id ride along for support, and a refused body names
 * its fields.
 */
export const flaskErrors: ErrorDialect = {
  status: (err, native) => {
    if (err.code === 'VALIDATION' || err.code === 'INVALID_ARCHIVE') return 400;
    if (err.code === 'INVALID_STATE' || err.code === 'OPERATION_IN_PROGRESS' || err.code === 'UNSUPPORTED') return 400;
    return native;
  },
  body: (err, requestId) => ({
    error: err.message,
    code: err.code,
    request_id: requestId,
    ...(err.code === 'VALIDATION' && err.details.fields ? { fields: err.details.fields } : {}),
  }),
};

/** The error body, for the document. `code` is a native error code, or OPERATION_FAILED (see `afterOperation`). */
export const FlaskError = z.object({
  error: z.string(),
  code: z.string(),
  request_id: z.string().nullable(),
  fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  operation_id: z.string().optional(),
});

const STATE_CODES: readonly ErrorCode[] = ['INVALID_STATE', 'OPERATION_IN_PROGRESS'];

/**
 * A rejection handler that tells a state conflict in the earlier API's words (`message` of
 * the native one), and lets every other error through as it is.
 */
export function retellConflict(message: (native: HangarError) => string | undefined) {
  return (err: unknown): never => {
    const e = toHangarError(err);
    const told = STATE_CODES.includes(e.code) ? message(e) : undefined;
    throw told === undefined ? e : new HangarError(e.code, told, e.details);
  };
}

/**
 * "VM must be stopped before …", the earlier API's refusal of a VM that is not stopped; not
 * for one that is stopped but busy exporting, whose native message says so.
 */
export const mustBeStopped = (what: string) =>
  retellConflict((e) => (e.details.status === 'exporting' ? undefined : `VM must be stopped before ${what}`));

/**
 * The error a native stream route answered, read back from its body so the dialect answers
 * it in its own shape (a body that is not the native error shape is the server's fault).
 */
export async function forwardedError(res: Response): Promise<HangarError> {
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (!body || typeof body.detail !== 'string' || !ERROR_CODES.includes(body.code as ErrorCode)) return errors.internal();
  const { detail, code, request_id: _requestId, ...details } = body;
  return new HangarError(code as ErrorCode, detail, details);
}
