import { errors, type Vm, type VmActionResult, type VmPage } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/request-context.js';
import type { Dialect, DialectRoute } from './dialect.js';
import { fastApiErrors } from './fastapi-errors.js';
import { createFlatVmRoute, deleteFlatVmRoute, FlatVm, flatAnswer, flatVm, VM_ERRORS } from './flat-vm.js';
import type { NativeCalls } from './native-calls.js';
import { WAIT } from './operation-outcome.js';
import { resolveVm } from './vm-ref.js';

/** A page of the native list at its largest: the earlier API listed every VM in one answer. */
const PAGE = 100;
/** …but one request reads at most this many (the newest): a list is not a way to hold a server. */
const MAX_LISTED = 10_000;

async function everyVm(native: NativeCalls): Promise<Vm[]> {
  const vms: Vm[] = [];
  let cursor: string | null = null;
  do {
    const page: VmPage = await native.call<VmPage>('vms.list', { per_page: PAGE, ...(cursor ? { cursor } : {}) });
    vms.push(...page.vms);
    cursor = page.next_cursor;
  } while (cursor && vms.length < MAX_LISTED);
  return vms;
}

/** The action and the status it leads to, which the VM must not be in already. */
const ACTIONS = { start: 'running', stop: 'stopped' } as const;
type Action = keyof typeof ACTIONS;

async function act(c: HonoContext<AppEnv>, native: NativeCalls, ref: string, action: Action): Promise<Response> {
  const vm = await resolveVm(native, ref);
  const result = await native.call<VmActionResult>(`vms.${action}`, { id: vm.id, ...WAIT });
  // The native API takes a start of a running VM as already done (no operation); the earlier
  // API refused it, and its clients learn the VM's state from that 400. Nothing was changed.
  if (!result.operation && result.vm.status === ACTIONS[action]) {
    throw errors.invalidState(`VM ${result.vm.id} is already ${result.vm.status}`, {
      status: result.vm.status,
      allowed_actions: result.vm.allowed_actions,
      retryable: false,
    });
  }
  return flatAnswer(c, result, action);
}

const actionRoute = (action: Action): DialectRoute => ({
  method: 'POST',
  path: `/vms/{vm_id}/${action}`,
  summary: `${action === 'start' ? 'Start' : 'Stop'} a VM`,
  description: `Answers once the VM is ${ACTIONS[action]} (202 with the native status if it is still going after two minutes). A VM already ${ACTIONS[action]}, or in a state that does not allow it, is a 400.`,
  responses: {
    200: { description: `The VM, ${ACTIONS[action]}`, schema: FlatVm },
    202: { description: 'The VM, still on its way', schema: FlatVm },
    400: { description: 'Not in this state: `{"detail": "…"}`' },
    ...VM_ERRORS,
  },
  handle: ({ c, params, native }) => act(c, native, params.vm_id!, action),
});

const routes: DialectRoute[] = [
  createFlatVmRoute,
  {
    method: 'GET',
    path: '/vms',
    summary: 'List VMs',
    description: "Every live VM of the caller's project, in one list.",
    responses: { 200: { description: 'The VMs', schema: z.array(FlatVm) }, 401: VM_ERRORS[401] },
    handle: async ({ c, native }) => c.json((await everyVm(native)).map((vm) => flatVm(vm))),
  },
  {
    method: 'GET',
    path: '/vms/{vm_id}',
    summary: 'Get a VM',
    description: 'By id or short number (deleted VMs too, with status `deleted`).',
    responses: { 200: { description: 'The VM', schema: FlatVm }, ...VM_ERRORS },
    handle: async ({ c, params, native }) => c.json(flatVm(await resolveVm(native, params.vm_id!))),
  },
  actionRoute('start'),
  actionRoute('stop'),
  deleteFlatVmRoute,
];

export const lifecycle: Dialect = {
  name: 'lifecycle',
  title: 'VM Lifecycle Management API',
  description:
    "Create, list, get, start, stop and delete VMs at /vms, a VM being `{id, number, name, cpu_cores, memory, disk_size, public_ip, labels, status, created_at, updated_at}`. Paths take the VM's id or its short number. Each call answers once its operation is done (202 if it still runs after two minutes). Unlike before, a bearer token is required (an API key, or a token from POST /token). Errors are FastAPI's `{\"detail\": …}`: 422 for an invalid body, 400 for an action the VM's state does not allow, 404 for an unknown VM. When the by-name dialect is enabled too, it answers GET /vms (its list); this list answers where it is not.",
  routes,
  error: fastApiErrors,
};
