import { errors, UpdateVmFields, Vm, type VmActionResult } from '@hangar/core';
import { z } from 'zod';
import { foldBodyAliases, UPDATE_VM_ALIASES } from '../../http/body-aliases.js';
import { readBody } from '../../http/read-body.js';
import type { DialectRequest, DialectRoute } from '../dialect.js';
import { WAIT } from '../operation-outcome.js';
import { resolveLiveVm, vmRefKind } from '../vm-ref.js';
import { FlaskError, mustBeStopped, retellConflict } from './errors.js';
import { afterOperation, InProgress } from './outcome.js';

/** The earlier API's modify body: its names for the native fields. */
export const ModifyBody = z.strictObject({
  memory_mb: UpdateVmFields.shape.memory_mb,
  vcpu_count: UpdateVmFields.shape.cpu_cores,
  disk_size_gb: UpdateVmFields.shape.disk_gb.meta({ description: 'The disk only grows' }),
  new_name: UpdateVmFields.shape.name,
});

const Message = z.object({ message: z.string() });
const Modified = Message.extend({ name: Vm.shape.name, id: Vm.shape.number, uuid: Vm.shape.id });

const notFound = { description: 'VM not found', schema: FlaskError };
const unauthenticated = { description: 'No or bad credentials', schema: FlaskError };
const stillRunning = { description: 'Still running at the timeout (120 s)', schema: InProgress };

/**
 * The routes whose paths the id-addressed dialects share (`/vms/{id}`, its start and stop):
 * this dialect's only when the path names the VM by name.
 */
const byNameOnly =
  (handle: (req: DialectRequest) => Promise<Response>) =>
  (req: DialectRequest): Promise<Response | undefined> =>
    vmRefKind(req.params.vm_name ?? '') === 'name' ? handle(req) : Promise.resolve(undefined);

/** Start or stop: wait for it; a refusal or a failure is the earlier API's 400 "Failed to … VM". */
const powerRoute = (verb: 'start' | 'stop', done: string): DialectRoute => {
  const failed = `Failed to ${verb} VM`;
  return {
    method: 'POST',
    path: `/vms/{vm_name}/${verb}`,
    summary: `${verb === 'start' ? 'Start' : 'Stop (ACPI power-off, forced after 30 s)'} a VM`,
    description: `Answers once it is ${verb === 'start' ? 'running' : 'stopped'}; one already there answers 200 too. A name that is a VM id or an all-digit number is left to the id-addressed dialects.`,
    responses: {
      200: { description: done, schema: Message },
      202: stillRunning,
      400: { description: `${failed} (or not in a state to ${verb})`, schema: FlaskError },
      401: unauthenticated,
      404: notFound,
    },
    handle: byNameOnly(async ({ c, params, native }) => {
      const vm = await resolveLiveVm(native, params.vm_name!);
      const result = await native
        .call<VmActionResult>(`vms.${verb}`, { id: vm.id, ...WAIT })
        .catch(retellConflict((e) => `${failed}: ${e.message}`));
      return afterOperation(c, result, {
        done: () => c.json({ message: done }, 200),
        failed: { status: 400, message: failed },
        pending: `VM ${verb} in progress`,
      });
    }),
  };
};

export const vmRoutes: DialectRoute[] = [
  {
    method: 'POST',
    path: '/vms/{vm_name}/modify',
    summary: "Change a VM's memory, vCPUs or disk, or rename it",
    description:
      'Hardware changes need a stopped VM; a rename alone is taken in any state. The VM may be named by name, id or number. Answers once the change is made.',
    body: ModifyBody,
    responses: {
      200: { description: 'VM modified successfully', schema: Modified },
      202: stillRunning,
      400: { description: 'VM must be stopped before modification (or an invalid body)', schema: FlaskError },
      401: unauthenticated,
      404: notFound,
      409: { description: 'Another VM has the new name', schema: FlaskError },
      500: { description: 'Failed to modify VM configuration', schema: FlaskError },
    },
    handle: async ({ c, params, native }) => {
      const vm = await resolveLiveVm(native, params.vm_name!);
      const parsed = ModifyBody.safeParse(await readBody(c));
      if (!parsed.success) throw errors.fromZod(parsed.error, 'modification');
      const patch = foldBodyAliases(parsed.data, UPDATE_VM_ALIASES, UpdateVmFields);
      const result = await native.call<VmActionResult>('vms.update', { id: vm.id, ...patch, ...WAIT }).catch(mustBeStopped('modification'));
      return afterOperation(c, result, {
        done: () => c.json({ message: 'VM modified successfully', name: result.vm.name, id: result.vm.number, uuid: result.vm.id }, 200),
        failed: { status: 500, message: 'Failed to modify VM configuration' },
        pending: 'VM modification in progress',
      });
    },
  },
  {
    method: 'POST',
    path: '/vms/{vm_name}/unmount_iso',
    summary: "Empty a stopped VM's CD-ROM drive",
    description: 'The VM may be named by name, id or number.',
    responses: {
      200: { description: 'ISO unmounted and VM configuration updated', schema: Message },
      202: stillRunning,
      400: { description: 'No CDROM device found (no ISO in the drive), or the VM is not stopped', schema: FlaskError },
      401: unauthenticated,
      404: notFound,
      500: { description: 'The change failed on the host', schema: FlaskError },
    },
    handle: async ({ c, params, native }) => {
      const vm = await resolveLiveVm(native, params.vm_name!);
      const result = await native.call<VmActionResult>('vms.eject_iso', { id: vm.id, ...WAIT }).catch(mustBeStopped('unmounting the ISO'));
      return afterOperation(c, result, {
        done: () => c.json({ message: 'ISO unmounted and VM configuration updated' }, 200),
        failed: { status: 500, message: 'Failed to unmount the ISO' },
        pending: 'ISO unmount in progress',
      });
    },
  },
  {
    method: 'DELETE',
    path: '/vms/{vm_name}',
    summary: 'Delete a VM and its disk',
    description:
      'In any state: an operation in flight on it (a start, a download) is cancelled. Answers once it is gone. A name that is a VM id or an all-digit number is left to the id-addressed dialects.',
    responses: {
      204: { description: 'VM deleted' },
      202: stillRunning,
      401: unauthenticated,
      404: notFound,
      500: { description: 'The delete failed on the host', schema: FlaskError },
    },
    handle: byNameOnly(async ({ c, params, native }) => {
      const vm = await resolveLiveVm(native, params.vm_name!);
      // The earlier API destroyed the domain whatever it was doing.
      const result = await native.call<VmActionResult>('vms.delete', { id: vm.id, force: true, ...WAIT });
      return afterOperation(c, result, {
        done: () => c.body(null, 204),
        failed: { status: 500, message: 'Failed to delete VM' },
        pending: 'VM deletion in progress',
      });
    }),
  },
  powerRoute('start', 'VM started'),
  powerRoute('stop', 'VM stopped'),
];
