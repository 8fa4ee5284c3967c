import { z } from 'zod';
import {
  CreateVmRequest,
  DeleteVmRequest,
  IdRequest,
  ListEventsRequest,
  ListVmsQuery,
  RestartVmRequest,
  StopVmRequest,
  UpdateVmRequest,
  Vm,
  VmActionRequest,
  VmActionResult,
  VmEvent,
  VmPage,
  WaitVmRequest,
  WaitVmResult,
} from '@hangar/core';
import { router } from '../trpc/init.js';
import { operatorProcedure, viewerProcedure } from '../trpc/procedures.js';
import { settle, waitSignal } from './settle.js';

type ActionName = 'start' | 'force_stop' | 'reset' | 'pause' | 'resume';

/** start, force_stop, reset, pause, resume: same input, same answer. */
const simpleAction = (name: ActionName) =>
  operatorProcedure
    .input(VmActionRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      const result = await ctx.services.vms[name](ctx.scope, id, opts);
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    });

export const vmsRouter = router({
  create: operatorProcedure
    .input(CreateVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { idempotency_key, wait, wait_timeout_ms, ...spec } = input;
      const result = await ctx.services.vms.create(ctx.scope, spec, { idempotency_key });
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  get: viewerProcedure
    .input(IdRequest)
    .output(Vm)
    .query(({ ctx, input }) => ctx.services.vms.get(ctx.scope, input.id)),

  list: viewerProcedure
    .input(ListVmsQuery.optional())
    .output(VmPage)
    .query(({ ctx, input }) => ctx.services.vms.list(ctx.scope, input ?? {})),

  update: operatorProcedure
    .input(UpdateVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, idempotency_key, expected_version, wait, wait_timeout_ms, ...patch } = input;
      const result = await ctx.services.vms.update(ctx.scope, id, patch, { idempotency_key, expected_version });
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  delete: operatorProcedure
    .input(DeleteVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      const result = await ctx.services.vms.delete(ctx.scope, id, opts);
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  start: simpleAction('start'),
  force_stop: simpleAction('force_stop'),
  reset: simpleAction('reset'),
  pause: simpleAction('pause'),
  resume: simpleAction('resume'),

  stop: operatorProcedure
    .input(StopVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      return settle(ctx, await ctx.services.vms.stop(ctx.scope, id, opts), wait, wait_timeout_ms, signal);
    }),

  restart: operatorProcedure
    .input(RestartVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      return settle(ctx, await ctx.services.vms.restart(ctx.scope, id, opts), wait, wait_timeout_ms, signal);
    }),

  events: viewerProcedure
    .input(ListEventsRequest)
    .output(z.array(VmEvent))
    .query(({ ctx, input }) => {
      const { id, ...query } = input;
      return ctx.services.vms.events(ctx.scope, id, query);
    }),

  /** Long-poll: held until the VM reaches the status or the caller's timeout passes. */
  wait: viewerProcedure
    .input(WaitVmRequest)
    .output(WaitVmResult)
    .query(({ ctx, input, signal }) =>
      ctx.services.vms.wait(ctx.scope, input.id, input.status, {
        timeout_ms: input.timeout_ms,
        signal: waitSignal(ctx, signal),
      }),
    ),
});
