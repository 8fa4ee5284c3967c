import type { VmActionResult } from '@hangar/core';
import type { Context } from './context.js';
import type { AuthedContext } from './procedures.js';

/**
 * Aborted when the caller goes away (tRPC's signal for the call, else the request's
 * `client_gone`) or the server shuts down, so long waits end with either.
 */
export function waitSignal(ctx: Context, request: AbortSignal | undefined): AbortSignal {
  const gone = request ?? ctx.client_gone?.();
  return gone ? AbortSignal.any([gone, ctx.shutdown]) : ctx.shutdown;
}

/** For `wait: true`: holds the answer until the operation has finished, then answers with the VM as it ended. */
export async function settle(
  ctx: Context & AuthedContext,
  result: VmActionResult,
  wait: boolean,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<VmActionResult> {
  if (!wait || !result.operation) return result;
  const opId = result.operation.id;
  const { operation, vm } = await ctx.waits.hold(ctx.principal, () =>
    ctx.services.operations.outcome(ctx.scope, opId, { timeout_ms: timeoutMs, signal: waitSignal(ctx, signal) }),
  );
  return { vm, operation };
}
