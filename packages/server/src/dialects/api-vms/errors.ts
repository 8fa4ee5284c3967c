import type { ErrorDialect } from '../dialect.js';
import { fastApiErrors } from '../fastapi-errors.js';

/** The README's texts for a refused caller, whatever the native reason (kept in `reason`). */
const CALLER_REFUSALS: Partial<Record<string, string>> = {
  UNAUTHENTICATED: 'Could not validate credentials',
  FORBIDDEN: 'Not enough permissions',
};

type FastApiBody = { detail: string | { loc: string[]; msg: string; type: string }[]; code: string; request_id: string | null };

/**
 * FastAPI's error answers, with the VM lifecycle API's fixed texts for 401 and 403, and a
 * refused query parameter located in the `query` (FastAPI's `loc`) rather than the body. A name
 * already taken is a 400, as every refusal the API documented that was not about the caller.
 */
export const apiVmsErrors: ErrorDialect = {
  status: (err, native) => (err.code === 'NAME_TAKEN' ? 400 : fastApiErrors.status(err, native)),
  body: (err, requestId) => {
    const body = fastApiErrors.body(err, requestId) as FastApiBody;
    const fixed = CALLER_REFUSALS[err.code];
    if (fixed) return { ...body, detail: fixed, reason: err.message };
    if (err.details.location === 'query' && Array.isArray(body.detail)) {
      return { ...body, detail: body.detail.map((d) => ({ ...d, loc: ['query', ...d.loc.slice(1)] })) };
    }
    return body;
  },
};
