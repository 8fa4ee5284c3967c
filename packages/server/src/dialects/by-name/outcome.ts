import type { VmActionResult } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../../http/request-context.js';
import { outcomeOf } from '../operation-outcome.js';

/** What an action still running at the timeout answers. */
export const InProgress = z.object({ message: z.string(), operation_id: z.string() });

/**
 * The answer to an action made with `WAIT` (operation-outcome.ts): `done()` once its operation succeeded (or there
 * was nothing to do), `{"error": "<failed>: <why>"}` with `failed.status` once it failed or
 * was cancelled, and 202 with the operation's id while it still runs.
 */
export function afterOperation(
  c: HonoContext<AppEnv>,
  result: VmActionResult,
  opts: { done: () => Response; failed: { status: 400 | 500; message: string }; pending: string },
): Response {
  const outcome = outcomeOf(result);
  if (outcome.kind === 'done') return opts.done();
  if (outcome.kind === 'failed') {
    return c.json(
      {
        error: `${opts.failed.message}: ${outcome.reason}`,
        code: 'OPERATION_FAILED',
        request_id: c.get('info')?.requestId ?? null,
        operation_id: outcome.operation_id,
      },
      opts.failed.status,
    );
  }
  return c.json({ message: opts.pending, operation_id: outcome.operation_id }, 202);
}
