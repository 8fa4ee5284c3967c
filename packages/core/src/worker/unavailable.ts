import { isHangarError } from '../domain/errors.js';
import { isDatabaseUnavailable } from '../store/database.js';

/**
 * Whether a step failed because the database, or for an agent the API in front of it, cannot
 * be reached right now: the operation is not the host's failure, and is tried again. An agent
 * sees the API's 503 as a tRPC client error whose `data.code` says DATABASE_UNAVAILABLE, or as
 * no answer at all.
 */
export function unavailable(err: unknown): boolean {
  if (isDatabaseUnavailable(err)) return true;
  if (isHangarError(err)) return err.code === 'DATABASE_UNAVAILABLE';
  const data = (err as { data?: { code?: unknown; httpStatus?: unknown } } | null)?.data;
  return data?.code === 'DATABASE_UNAVAILABLE';
}
