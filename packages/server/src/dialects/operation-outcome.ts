import type { VmActionResult } from '@hangar/core';

/**
 * The earlier APIs answered once the work was done: a dialect's change waits for its native
 * operation, up to two minutes, and then answers how it ended (202 with the operation to
 * follow while it still runs). Each dialect words the three outcomes its own way.
 */
export const WAIT = { wait: true, wait_timeout_ms: 120_000 } as const;

export type Outcome =
  | { kind: 'done' }
  | { kind: 'pending'; operation_id: string }
  | { kind: 'failed'; reason: string; operation_id: string };

/** How a waited-for change ended: done (or nothing to do), still running, or failed. */
export function outcomeOf({ operation }: VmActionResult): Outcome {
  if (!operation || operation.status === 'succeeded') return { kind: 'done' };
  if (operation.status === 'failed' || operation.status === 'cancelled') {
    return { kind: 'failed', reason: operation.error ?? `the operation was ${operation.status}`, operation_id: operation.id };
  }
  return { kind: 'pending', operation_id: operation.id };
}
