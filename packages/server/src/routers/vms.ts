import {
  ACTION_REQUESTS,
  type ActionOptionsSchema,
  AttachIsoRequest,
  actionRequest,
  ConfigureVmRequest,
  ConsoleLogRequest,
  ConsoleTicket,
  CreateVmRequest,
  errors,
  IdRequest,
  ListEventsRequest,
  ListVmsQuery,
  REQUESTABLE_ACTIONS,
  type Requestable,
  type RequestableAction,
  ResizeVmRequest,
  type UpdateVmInput,
  UpdateVmRequest,
  Vm,
  VmActionRequest,
  VmActionResult,
  VmConfig,
  VmConsoleLog,
  VmEvent,
  VmPage,
  WaitVmRequest,
  WaitVmResult,
} from '@hangar/core';
import { z } from 'zod';
import { CREATE_VM_ALIASES, UPDATE_VM_ALIASES, VM_FIELD_ALIASES } from '../http/body-aliases.js';
import type { Context } from '../trpc/context.js';
import { router } from '../trpc/init.js';
import type { AuthedContext } from '../trpc/procedures.js';
import { operatorProcedure, viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';
import { settle, waitSignal } from '../trpc/settle.js';

/**
 * The procedure of a requestable action (start, stop, delete, …), made from its definition:
 * its options plus the VM id and wait flags in, the VM and its operation out.
 */
function actionProcedure<Shape extends z.ZodRawShape>(action: RequestableAction, request: Requestable<z.ZodObject<Shape>>) {
  const { method, path, summary } = request.api;
  return operatorProcedure
    .meta(route(method, path, summary, { status: 'accepted' }))
    .input(actionRequest(request.options))
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { id, wait, wait_timeout_ms, ...opts } = input as { id: string; wait: boolean; wait_timeout_ms: number };
      const result = await ctx.services.vms[action](ctx.scope, id, opts);
      return settle(ctx, result, wait, wait_timeout_ms, signal);
    });
}

/** One procedure per requestable action, named after it. */
function actionProcedures() {
  return Object.fromEntries(REQUESTABLE_ACTIONS.map((a) => [a, actionProcedure(a, ACTION_REQUESTS[a])])) as {
    [A in RequestableAction]: ReturnType<typeof actionProcedure<ActionOptionsSchema<A>['shape']>>;
  };
}

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
  ...actionProcedures(),

  create: operatorProcedure
    .meta(
      route('POST', '/vms', 'Create a VM', {
        status: 201,
        body_aliases: CREATE_VM_ALIASES,
        description: 'Answers at once with the VM (status provisioning) and its create operation; `wait: true` answers once it is stable.',
      }),
    )
    .input(CreateVmRequest)
    .output(VmActionResult)
    .mutation(async ({ ctx, input, signal }) => {
      const { idempotency_key, wait, wait_timeout_ms, ...spec } = input;
      // Hosts are the fleet's: naming one is for those who run the fleet.
      if (spec.host_id && !ctx.principal.global_admin) throw errors.forbidden('Choosing the host (host_id) needs a global admin');
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
        body_aliases: UPDATE_VM_ALIASES,
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
    .query(async ({ ctx, input }) => {
      const vm = await ctx.services.vms.get(ctx.scope, input.id);
      return VmConfig.parse({ ...vm, xml_config: await ctx.services.vms.config_xml(ctx.scope, vm.id) });
    }),

  // Operators only: a guest's console may show what viewers should not read (a first-boot password).
  console_log: operatorProcedure
    .meta(
      route('GET', '/vms/{id}/console-log', "The end of a VM's serial console log", {
        description:
          'What the guest wrote to its serial console, the last `tail_bytes` of it (default 64 KiB, at most 1 MiB). Empty before the VM first ran; 409 UNSUPPORTED where this server cannot read it (a VM on an agent host, or a driver without a console log).',
      }),
    )
    .input(ConsoleLogRequest)
    .output(VmConsoleLog)
    .query(({ ctx, input }) => ctx.services.vms.console_log(ctx.scope, input)),

  // Operators only, like the console log: the screen shows what the guest shows, and takes keys.
  console_ticket: operatorProcedure
    .meta(
      route('POST', '/vms/{id}/console-ticket', "A ticket to open a VM's screen (VNC) over a WebSocket", {
        description:
          'Answers a single-use ticket, valid 60 s, for this VM and the caller, and the `path` to open as a WebSocket on this origin (`ws:`/`wss:`, subprotocol `binary`): raw RFB both ways, as noVNC speaks it. The VM must be running or paused with `vnc_enabled` (409 INVALID_STATE); 409 UNSUPPORTED where this server cannot reach its screen (a VM on an agent host, a remote libvirt host). Tickets live in the memory of the API process that issued them: behind a load balancer the WebSocket must reach the same process.',
      }),
    )
    .input(IdRequest)
    .output(ConsoleTicket)
    .mutation(async ({ ctx, input }) => {
      // Refused now rather than at the upgrade, where a browser sees no reason.
      await ctx.services.vms.screen(ctx.scope, input.id);
      const { ticket, expires_at } = ctx.console_tickets.issue(ctx.principal, input.id);
      return {
        ticket,
        path: `/api/v1/vms/${encodeURIComponent(input.id)}/console/ws?ticket=${encodeURIComponent(ticket)}`,
        expires_at: expires_at.toISOString(),
      };
    }),

  configure: operatorProcedure
    .meta(
      route('PUT', '/vms/{id}/config', "Change a VM's hardware (the VM must be stopped)", {
        status: 'accepted',
        body_aliases: VM_FIELD_ALIASES,
      }),
    )
    .input(ConfigureVmRequest)
    .output(VmActionResult)
    .mutation(({ ctx, input, signal }) => changeHardware(ctx, input, signal)),

  resize: operatorProcedure
    .meta(
      route('POST', '/vms/{id}/resize', 'Resize CPU, memory or disk (the VM must be stopped)', {
        status: 'accepted',
        body_aliases: VM_FIELD_ALIASES,
      }),
    )
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
