import {
  CreateVmInput,
  CreateVmRequest,
  errors,
  HangarError,
  IpAddress,
  Timestamp,
  Uuid,
  type Vm,
  type VmActionResult,
  VmStatus,
} from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import { z } from 'zod';
import { toHangarError } from '../errors/to-hangar-error.js';
import { CREATE_VM_ALIASES, foldBodyAliases } from '../http/body-aliases.js';
import { readBody } from '../http/read-body.js';
import type { AppEnv } from '../http/request-context.js';
import type { DialectRoute } from './dialect.js';
import type { NativeCalls } from './native-calls.js';
import { outcomeOf, WAIT } from './operation-outcome.js';
import { resolveVm } from './vm-ref.js';

/**
 * The flat VM of the earlier FastAPI services at `/vms` (the provisioning service and the
 * lifecycle API): one object with the older field names, labels as a list, and the status
 * word their clients read. Both dialects answer their shared routes (create, delete) from here,
 * so whichever of them is mounted first answers a request exactly as the other would.
 */

/** `created` and `deleted` are the words the create and delete answers used; otherwise the native status. */
export const FlatVmStatus = z.union([VmStatus, z.literal('created')]);

export const FlatVm = z.object({
  id: Uuid,
  /** The VM's short number, which the paths take as well as its id. */
  number: z.int(),
  name: CreateVmInput.shape.name,
  cpu_cores: CreateVmInput.shape.cpu_cores.unwrap(),
  /** MB. */
  memory: CreateVmInput.shape.memory_mb.unwrap(),
  /** GB. */
  disk_size: CreateVmInput.shape.disk_gb.unwrap(),
  public_ip: IpAddress.nullable(),
  /** Each label as `key=value`, or `key` alone when its value is empty. */
  labels: z.array(z.string()),
  status: FlatVmStatus,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type FlatVm = z.infer<typeof FlatVm>;

/** Labels as a list: a key whose value is empty is the bare key (what a list of keys made). */
export function labelList(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([key, value]) => (value === '' ? key : `${key}=${value}`));
}

export function flatVm(vm: Vm, status: FlatVm['status'] = vm.status): FlatVm {
  return {
    id: vm.id,
    number: vm.number,
    name: vm.name,
    cpu_cores: vm.cpu_cores,
    memory: vm.memory_mb,
    disk_size: vm.disk_gb,
    public_ip: vm.public_ip,
    labels: labelList(vm.labels),
    status,
    created_at: vm.created_at,
    updated_at: vm.updated_at,
  };
}

/**
 * The create body as documented: the earlier names (memory in MB, disk_size in GB, labels as a
 * list of keys or a map) and every native field beside them.
 */
export const CreateFlatVmBody = CreateVmInput.extend({
  memory: CreateVmInput.shape.memory_mb.meta({ description: 'MB (memory_mb is taken too)' }),
  disk_size: CreateVmInput.shape.disk_gb.meta({ description: 'GB (disk_gb is taken too)' }),
  idempotency_key: CreateVmRequest.shape.idempotency_key,
});

/** The fields the dialect sets itself: it always waits, as those APIs did. */
const OWN_FIELDS = ['wait', 'wait_timeout_ms'] as const;

/**
 * Where the operation ended: `true` once it succeeded (or there was nothing to do), `false`
 * while it still runs at the wait's end. A failed or cancelled operation is an error, since
 * those APIs answered only with the outcome.
 */
export function settled(result: VmActionResult, verb: string): boolean {
  const outcome = outcomeOf(result);
  if (outcome.kind !== 'failed') return outcome.kind === 'done';
  const details = { status: result.vm.status, operation_id: outcome.operation_id, retryable: false };
  if (result.operation?.status === 'cancelled') {
    throw errors.invalidState(`The ${verb} of VM ${result.vm.id} was cancelled: ${outcome.reason}`, details);
  }
  // Not the caller's mistake: the host could not do it (the operation and the VM's events say why).
  throw new HangarError('INTERNAL', `Could not ${verb} VM ${result.vm.id}: ${outcome.reason}`, details);
}

/** The flat VM, 200 once the operation is done (with `doneStatus` then) and 202 while it still runs. */
export function flatAnswer(c: HonoContext<AppEnv>, result: VmActionResult, verb: string, doneStatus?: FlatVm['status']): Response {
  return settled(result, verb) ? c.json(flatVm(result.vm, doneStatus ?? result.vm.status), 200) : c.json(flatVm(result.vm), 202);
}

/** A refused field named as the client sent it (`memory`, not `memory_mb`). */
function inClientNames(err: unknown, used: Record<string, string>): HangarError {
  const e = toHangarError(err);
  const fields = e.code === 'VALIDATION' ? e.details.fields : undefined;
  if (!fields?.length) return e;
  const named = fields.map((f) => {
    const [head, ...rest] = f.path.split('.');
    return head && used[head] ? { ...f, path: [used[head], ...rest].join('.') } : f;
  });
  return new HangarError('VALIDATION', e.message, { ...e.details, fields: named });
}

async function createVm(c: HonoContext<AppEnv>, native: NativeCalls): Promise<Response> {
  const body = await readBody(c);
  for (const field of OWN_FIELDS) {
    if (Object.hasOwn(body, field)) {
      throw errors.validation(`${field} is not taken here: this API answers once the VM is created`, [
        { path: field, message: 'not a field of this API' },
      ]);
    }
  }
  const used = Object.fromEntries(
    Object.entries(CREATE_VM_ALIASES)
      .filter(([alias]) => Object.hasOwn(body, alias))
      .map(([alias, field]) => [field, alias]),
  );
  const input = foldBodyAliases(body, CREATE_VM_ALIASES, CreateVmRequest);
  const result = await native.call<VmActionResult>('vms.create', { ...input, ...WAIT }).catch((err: unknown) => {
    throw inClientNames(err, used);
  });
  // 200, not 201: FastAPI answers 200 unless a route sets another status, and neither API's
  // documentation shows one, so their clients saw 200; some check for exactly that, while
  // those checking for any 2xx are served by either.
  return flatAnswer(c, result, 'create', 'created');
}

async function deleteVm(c: HonoContext<AppEnv>, native: NativeCalls, ref: string): Promise<Response> {
  const vm = await resolveVm(native, ref);
  const result = await native.call<VmActionResult>('vms.delete', { id: vm.id, ...WAIT });
  return flatAnswer(c, result, 'delete', 'deleted');
}

export const VM_ERRORS = {
  401: { description: 'No valid bearer token' },
  404: { description: 'No such VM: `{"detail": "VM with ID … not found"}`' },
} as const;

/** POST /vms, as both dialects answer it. */
export const createFlatVmRoute: DialectRoute = {
  method: 'POST',
  path: '/vms',
  summary: 'Create a VM',
  description:
    'Creates the VM and answers once it is provisioned, with `status: "created"` (202 with the native status if it is still provisioning after two minutes).',
  body: CreateFlatVmBody,
  responses: {
    200: { description: 'The VM, created', schema: FlatVm },
    202: { description: 'The VM, still provisioning', schema: FlatVm },
    401: VM_ERRORS[401],
    422: { description: 'Invalid body: `{"detail": [{"loc", "msg", "type"}]}`' },
  },
  handle: ({ c, native }) => createVm(c, native),
};

/** DELETE /vms/{vm_id}, as both dialects answer it. */
export const deleteFlatVmRoute: DialectRoute = {
  method: 'DELETE',
  path: '/vms/{vm_id}',
  summary: 'Delete a VM',
  description:
    'Deletes the VM (by id or short number) and answers once it is gone, with `status: "deleted"` (202 with `deleting` if it is still going after two minutes).',
  responses: {
    200: { description: 'The VM, deleted', schema: FlatVm },
    202: { description: 'The VM, still being deleted', schema: FlatVm },
    400: { description: 'Not now: an operation on the VM is in flight' },
    ...VM_ERRORS,
  },
  handle: ({ c, params, native }) => deleteVm(c, native, params.vm_id!),
};
