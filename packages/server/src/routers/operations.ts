import { IdRequest, ListOperationsQuery, Operation, OperationPage, WaitOperationRequest, WaitOperationResult } from '@hangar/core';
import { router } from '../trpc/init.js';
import { viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';
import { waitSignal } from '../trpc/settle.js';

export const operationsRouter = router({
  get: viewerProcedure
    .meta(route('GET', '/operations/{id}', 'Get an operation'))
    .input(IdRequest)
    .output(Operation)
    .query(({ ctx, input }) => ctx.services.operations.get(ctx.scope, input.id)),

  list: viewerProcedure
    .meta(route('GET', '/operations', 'List operations, newest first'))
    .input(ListOperationsQuery.optional())
    .output(OperationPage)
    .query(({ ctx, input }) => ctx.services.operations.list(ctx.scope, input ?? {})),

  /** Long-poll: held until the operation has finished or the caller's timeout passes. */
  wait: viewerProcedure
    .meta(route('GET', '/operations/{id}/wait', 'Wait until an operation has finished', { query_aliases: { timeout: 'timeout_ms' } }))
    .input(WaitOperationRequest)
    .output(WaitOperationResult)
    .query(({ ctx, input, signal }) =>
      ctx.waits.hold(ctx.principal, () =>
        ctx.services.operations.wait(ctx.scope, input.id, { timeout_ms: input.timeout_ms, signal: waitSignal(ctx, signal) }),
      ),
    ),
});
