import type { ErrorDialect } from './dialect.js';

/**
 * Errors as the FastAPI-based APIs answered them: `{"detail": "…"}`, a refused body as 422 with
 * `detail` listing each field (`loc`, `msg`, `type`, as pydantic does), and an action the VM's
 * state does not allow as 400. The native code and request id ride along for support.
 */
export const fastApiErrors: ErrorDialect = {
  status: (err, native) => {
    if (err.code === 'VALIDATION') return 422;
    if (err.code === 'INVALID_STATE' || err.code === 'OPERATION_IN_PROGRESS' || err.code === 'UNSUPPORTED') return 400;
    return native;
  },
  body: (err, requestId) => {
    const fields = err.code === 'VALIDATION' ? ((err.details.fields as { path: string; message: string }[] | undefined) ?? []) : [];
    const detail = fields.length
      ? fields.flatMap((f) => {
          // An unknown field is reported at the object's root; pydantic names the field itself.
          const unknown = /^Unrecognized keys?: /.test(f.message) ? [...f.message.matchAll(/"([^"]*)"/g)].map((m) => m[1]!) : [];
          const at = f.path === '(root)' ? [] : f.path.split('.').filter(Boolean);
          if (unknown.length)
            return unknown.map((k) => ({ loc: ['body', ...at, k], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }));
          return [{ loc: ['body', ...at], msg: f.message, type: 'value_error' }];
        })
      : err.message;
    return { detail, code: err.code, request_id: requestId };
  },
};
