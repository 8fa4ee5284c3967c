import type { VmActionResult } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../../http/request-context.js';

/**
 * The earlier API answered its actions once libvirt had done them; the native call is made
 * with these flags so the answer comes once the operation has finished, or at this timeout
 * with the operation still running.
 */
export const WAIT = { wait: true, wait_timeout_ms: 120_000 } as const;

/** What an action still running at the timeout answers. */
export const InProgress = z.object({ message: z.string(), operation_id: z.string() });

/**
 * The answer to an action made with `WAIT`: `done()` once its operation succeeded (or there
 * was nothing to do), `{"error": "<failed>: <why>"}` with `failed.status` once it failed or
 * was cancelled, and 202 with the operation's id while it still runs.
 */
export function afterOperation(
  c: HonoContext<AppEnv>,
  result: VmActionResult,
  opts: { done: () => Response; failed: { status: 400 | 500; message: string }; pending: string },
): Response {
  const op = result.operation;
  if (!op || op.status === 'succeeded') return opts.done();
  if (op.status === 'failed' || op.status === 'cancelled') {
    return c.json(
      {
        error: `${opts.failed.message}: ${op.error ?? `the operation was ${op.status}`}`,
        code: 'OPERATION_FAILED',
        request_id: c.get('info')?.requestId ?? null,
        operation_id: op.id,
      },
      opts.failed.status,
    );
  }
  return c.json({ message: opts.pending, operation_id: op.id }, 202);
}
