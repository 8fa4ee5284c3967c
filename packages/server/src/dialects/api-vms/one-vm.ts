import type { Vm, VmActionResult, VmConfig } from '@hangar/core';
import type { DialectRoute } from '../dialect.js';
import type { NativeCalls } from '../native-calls.js';
import { outcomeOf, WAIT } from '../operation-outcome.js';
import { diskPaths, pythonList } from './disk-paths.js';
import { failed } from './outcome.js';
import { visibleHosts, vmView } from './present.js';
import { caller, inDialectNames, pathVm, readJson, readQuery } from './request.js';
import { apiVmsRoute, CHANGE_ERRORS, VM_ERRORS } from './route.js';
import { DeleteQuery, DeleteView, NoQuery, UpdateBody, VmView } from './shapes.js';

const PATH = '/api/vms/{vm_id}';

/** GET /api/vms/{id}: one VM, by number (or uuid, or name). */
const get = apiVmsRoute('vms.get', {
  method: 'GET',
  path: PATH,
  summary: 'Get a VM',
  responses: { 200: { description: 'The VM', schema: VmView }, ...VM_ERRORS },
  handle: async (req) => {
    const principal = await caller(req, 'read');
    readQuery(req, NoQuery);
    const vm = await pathVm(req);
    return req.c.json(vmView(vm, await visibleHosts(req.native, principal)));
  },
});

/** PUT /api/vms/{id}: its name and OS at once, its hardware (a stopped VM's) as an operation that is waited for. */
const update = apiVmsRoute('vms.update', {
  method: 'PUT',
  path: PATH,
  summary: 'Update a VM',
  description:
    'Name and OS change in any state; hardware (cpu_cores, memory_mb, disk_gb, vnc_enabled, network_config) only while the VM is stopped (400 otherwise). Answers the VM.',
  body: UpdateBody,
  responses: {
    200: { description: 'Updated', schema: VmView },
    202: { description: 'The hardware change still runs', schema: VmView },
    ...CHANGE_ERRORS,
  },
  handle: async (req) => {
    const principal = await caller(req, 'write');
    const { network_config, ...patch } = await readJson(req, UpdateBody);
    const vm = await pathVm(req);
    const result = await inDialectNames(
      req.native.call<VmActionResult>('vms.update', {
        id: vm.id,
        ...patch,
        ...(network_config ? { network: network_config } : {}),
        ...WAIT,
      }),
    );
    const outcome = outcomeOf(result);
    if (outcome.kind === 'failed') return failed(req.c, 'update', outcome);
    const hosts = await visibleHosts(req.native, principal);
    return req.c.json(vmView(result.vm, hosts), outcome.kind === 'pending' ? 202 : 200);
  },
});

/**
 * The files of the VM's disks, from the domain XML its host holds, or null where the host keeps
 * none this server can read (or cannot be asked now: the delete goes ahead regardless).
 */
async function knownDiskPaths(native: NativeCalls, vm: Vm): Promise<string[] | null> {
  try {
    const { xml_config } = await native.call<VmConfig>('vms.get_config', { id: vm.id });
    return xml_config === null ? null : diskPaths(xml_config);
  } catch {
    return null;
  }
}

/** DELETE /api/vms/{id}: powers the VM off and removes it, its disks only with `delete_disks=true`. */
const remove = apiVmsRoute('vms.delete', {
  method: 'DELETE',
  path: PATH,
  summary: 'Delete a VM',
  description:
    "Answers once the VM is deleted. `detail` lists the disk files deleted as the VM's host recorded them; where the host keeps no domain XML this server can read, it says the disks were deleted without paths.",
  query: DeleteQuery,
  responses: {
    200: { description: 'Deleted', schema: DeleteView },
    202: { description: 'The delete still runs', schema: DeleteView },
    ...CHANGE_ERRORS,
  },
  handle: async (req) => {
    await caller(req, 'write');
    const { delete_disks } = readQuery(req, DeleteQuery);
    const vm = await pathVm(req);
    const disks = delete_disks ? await knownDiskPaths(req.native, vm) : [];
    const result = await req.native.call<VmActionResult>('vms.delete', { id: vm.id, delete_disks, ...WAIT });
    const outcome = outcomeOf(result);
    if (outcome.kind === 'failed') return failed(req.c, 'delete', outcome);
    if (outcome.kind === 'pending') {
      return req.c.json({ message: `VM '${vm.name}' is being deleted`, detail: `Operation ${outcome.operation_id} is still running` }, 202);
    }
    const detail = disks ? `Deleted disks: ${pythonList(disks)}` : "Deleted the VM's disks";
    return req.c.json({ message: `VM '${vm.name}' deleted successfully`, detail });
  },
});

export const oneVmRoutes: DialectRoute[] = [get, update, remove];
