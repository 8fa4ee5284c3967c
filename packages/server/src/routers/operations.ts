import { IdRequest, ListOperationsQuery, Operation, OperationPage, WaitOperationRequest, WaitOperationResult } from '@hangar/core';
import { router } from '../trpc/init.js';
import { viewerProcedure } from '../trpc/procedures.js';
import { waitSignal } from './settle.js';

export const operationsRouter = router({
  get: viewerProcedure
    .input(IdRequest)
    .output(Operation)
    .query(({ ctx, input }) => ctx.services.operations.get(ctx.scope, input.id)),

  list: viewerProcedure
    .input(ListOperationsQuery.optional())
    .output(OperationPage)
    .query(({ ctx, input }) => ctx.services.operations.list(ctx.scope, input ?? {})),

  /** Long-poll: held until the operation has finished or the caller's timeout passes. */
  wait: viewerProcedure
    .input(WaitOperationRequest)
    .output(WaitOperationResult)
    .query(({ ctx, input, signal }) =>
      ctx.services.operations.wait(ctx.scope, input.id, { timeout_ms: input.timeout_ms, signal: waitSignal(ctx, signal) }),
    ),
});
