import {
  AttachIsoRequest,
  ConfigureVmRequest,
  CreateVmRequest,
  DeleteVmRequest,
  IdRequest,
  ListEventsRequest,
  ListVmsQuery,
  ResizeVmRequest,
  RestartVmRequest,
  StopVmRequest,
  type UpdateVmInput,
  UpdateVmRequest,
  Vm,
  VmActionRequest,
  VmActionResult,
  VmConfig,
  VmEvent,
  VmPage,
  WaitVmRequest,
  WaitVmResult,
} from '@hangar/core';
import { z } from 'zod';
import type { Context } from '../trpc/context.js';
import { router } from '../trpc/init.js';
import type { AuthedContext } from '../trpc/procedures.js';
import { operatorProcedure, viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';
import { settle, waitSignal } from './settle.js';

type ActionName = 'start' | 'force_stop' | 'reset' | 'pause' | 'resume';

/** start, force_stop, reset, pause, resume: same input, same answer. */
const simpleAction = (name: ActionName, path: `/${string}`, summary: string) =>
  operatorProcedure
    .meta(route('POST', path, summary, { status: 'accepted' }))
    .input(VmActionRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      const result = await ctx.services.vms[name](ctx.scope, id, opts);
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    });

/** The config and resize routes are hardware-only updates. */
async function changeHardware(
  ctx: Context & AuthedContext,
  input: { id: string; idempotency_key?: string; expected_version?: number; wait: boolean; wait_timeout_ms: number } & UpdateVmInput,
  signal: AbortSignal | undefined,
) {
  const { id, idempotency_key, expected_version, wait, wait_timeout_ms, ...patch } = input;
  const result = await ctx.services.vms.update(ctx.scope, id, patch, { idempotency_key, expected_version });
  return settle(ctx, result, wait, wait_timeout_ms, signal);
}

export const vmsRouter = router({
  create: operatorProcedure
    .meta(
      route('POST', '/vms', 'Create a VM', {
        status: 201,
        description: 'Answers at once with the VM (status provisioning) and its create operation; `wait: true` answers once it is stable.',
      }),
    )
    .input(CreateVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { idempotency_key, wait, wait_timeout_ms, ...spec } = input;
      const result = await ctx.services.vms.create(ctx.scope, spec, { idempotency_key });
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  get: viewerProcedure
    .meta(route('GET', '/vms/{id}', 'Get a VM (deleted ones too)'))
    .input(IdRequest)
    .output(Vm)
    .query(({ ctx, input }) => ctx.services.vms.get(ctx.scope, input.id)),

  list: viewerProcedure
    .meta(route('GET', '/vms', 'List VMs', { query_aliases: { server_id: 'host_id' } }))
    .input(ListVmsQuery.optional())
    .output(VmPage)
    .query(({ ctx, input }) => ctx.services.vms.list(ctx.scope, input ?? {})),

  update: operatorProcedure
    .meta(
      route('PATCH', '/vms/{id}', 'Change a VM', {
        status: 'accepted',
        also: [{ method: 'PUT', path: '/vms/{id}' }],
        description: 'Metadata changes apply at once; hardware changes need a stopped VM and run as an operation.',
      }),
    )
    .input(UpdateVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, idempotency_key, expected_version, wait, wait_timeout_ms, ...patch } = input;
      const result = await ctx.services.vms.update(ctx.scope, id, patch, { idempotency_key, expected_version });
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  delete: operatorProcedure
    .meta(route('DELETE', '/vms/{id}', 'Delete a VM', { status: 'accepted' }))
    .input(DeleteVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      const result = await ctx.services.vms.delete(ctx.scope, id, opts);
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  start: simpleAction('start', '/vms/{id}/start', 'Start a VM'),
  force_stop: simpleAction('force_stop', '/vms/{id}/force-stop', 'Power a VM off at once'),
  reset: simpleAction('reset', '/vms/{id}/reset', 'Hard-reset a VM'),
  pause: simpleAction('pause', '/vms/{id}/pause', 'Pause a VM'),
  resume: simpleAction('resume', '/vms/{id}/resume', 'Resume a paused VM'),

  stop: operatorProcedure
    .meta(route('POST', '/vms/{id}/stop', 'Stop a VM gracefully (ACPI, forced at the deadline)', { status: 'accepted' }))
    .input(StopVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      return settle(ctx, await ctx.services.vms.stop(ctx.scope, id, opts), wait, wait_timeout_ms, signal);
    }),

  restart: operatorProcedure
    .meta(route('POST', '/vms/{id}/restart', 'Restart a VM', { status: 'accepted' }))
    .input(RestartVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      return settle(ctx, await ctx.services.vms.restart(ctx.scope, id, opts), wait, wait_timeout_ms, signal);
    }),

  events: viewerProcedure
    .meta(route('GET', '/vms/{id}/events', "A VM's events, oldest first"))
    .input(ListEventsRequest)
    .output(z.array(VmEvent))
    .query(({ ctx, input }) => {
      const { id, ...query } = input;
      return ctx.services.vms.events(ctx.scope, id, query);
    }),

  get_config: viewerProcedure
    .meta(route('GET', '/vms/{id}/config', "A VM's hardware configuration"))
    .input(IdRequest)
    .output(VmConfig)
    .query(async ({ ctx, input }) => VmConfig.parse(await ctx.services.vms.get(ctx.scope, input.id))),

  configure: operatorProcedure
    .meta(route('PUT', '/vms/{id}/config', "Change a VM's hardware (the VM must be stopped)", { status: 'accepted' }))
    .input(ConfigureVmRequest)
    .output(VmActionResult)
    .mutation(({ ctx, input, signal }) => changeHardware(ctx, input, signal)),

  resize: operatorProcedure
    .meta(route('POST', '/vms/{id}/resize', 'Resize CPU, memory or disk (the VM must be stopped)', { status: 'accepted' }))
    .input(ResizeVmRequest)
    .output(VmActionResult)
    .mutation(({ ctx, input, signal }) => changeHardware(ctx, input, signal)),

  attach_iso: operatorProcedure
    .meta(route('POST', '/vms/{id}/iso', "Put an ISO in a stopped VM's CD-ROM drive", { status: 'accepted' }))
    .input(AttachIsoRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, idempotency_key, expected_version, ...iso } = input;
      const result = await ctx.services.vms.attach_iso(ctx.scope, id, iso, { idempotency_key, expected_version });
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  eject_iso: operatorProcedure
    .meta(
      route('DELETE', '/vms/{id}/iso', "Empty a stopped VM's CD-ROM drive (400 `No CDROM device found` when it is empty)", {
        status: 'accepted',
        also: [{ method: 'POST', path: '/vms/{id}/unmount_iso' }],
      }),
    )
    .input(VmActionRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input;
      const result = await ctx.services.vms.eject_iso(ctx.scope, id, opts);
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    }),

  /** Long-poll: held until the VM reaches the status or the caller's timeout passes. */
  wait: viewerProcedure
    .meta(route('GET', '/vms/{id}/wait', 'Wait until a VM reaches a status', { query_aliases: { timeout: 'timeout_ms' } }))
    .input(WaitVmRequest)
    .output(WaitVmResult)
    .query(({ ctx, input, signal }) =>
      ctx.waits.hold(ctx.principal, () =>
        ctx.services.vms.wait(ctx.scope, input.id, input.status, { timeout_ms: input.timeout_ms, signal: waitSignal(ctx, signal) }),
      ),
    ),
});
