import { DeleteOptions, ListVmsQuery, NOTHING_TO_UPDATE, RestartOptions, UpdateVmFields, Vm, VmConfig } from '@hangar/core';
import { z } from 'zod';

/**
 * What the VM lifecycle API at /api/vms reads and answers, field by field from the native
 * schemas, in its own names: an integer `id` (the VM's number) beside the `uuid`, `server_id`
 * for the host, `network_config` for the network. Bodies and queries are strict: a field the
 * API does not know is refused (422), not silently ignored.
 */

/** A host by its number, as the earlier API's integer server ids were. */
const ServerId = z
  .int()
  .min(1)
  .max(2 ** 31 - 1)
  .describe("The host's number (hosts are listed at /api/v1/hosts)");

export const ListQuery = z.strictObject({
  page: ListVmsQuery.shape.page,
  per_page: ListVmsQuery.shape.per_page,
  status: ListVmsQuery.shape.status.describe('running, stopped, paused, …: the native statuses; repeat it for several'),
  server_id: ServerId.optional(),
  os_type: ListVmsQuery.shape.os_type,
  search: ListVmsQuery.shape.search.describe('Part of the name, any case'),
});

const NetworkConfig = UpdateVmFields.shape.network.unwrap();

export const CreateBody = z.strictObject({
  name: Vm.shape.name,
  /** Choosing the host is for global admins (403 otherwise); the scheduler picks one when it is left out. */
  server_id: ServerId.nullish(),
  cpu_cores: Vm.shape.cpu_cores.default(2),
  memory_mb: Vm.shape.memory_mb.default(4096),
  disk_gb: Vm.shape.disk_gb.default(30),
  os_type: Vm.shape.os_type.default('linux'),
  os_version: Vm.shape.os_version.optional(),
  network_config: NetworkConfig.optional(),
  vnc_enabled: Vm.shape.vnc_enabled.optional(),
});

/** At least one field, as the native update asks. */
const somethingGiven = (body: Record<string, unknown>) => Object.values(body).some((v) => v !== undefined);

export const UpdateBody = z
  .strictObject({
    name: UpdateVmFields.shape.name,
    os_type: UpdateVmFields.shape.os_type,
    os_version: UpdateVmFields.shape.os_version,
    cpu_cores: UpdateVmFields.shape.cpu_cores,
    memory_mb: UpdateVmFields.shape.memory_mb,
    disk_gb: UpdateVmFields.shape.disk_gb,
    vnc_enabled: UpdateVmFields.shape.vnc_enabled,
    network_config: UpdateVmFields.shape.network,
  })
  .refine(somethingGiven, NOTHING_TO_UPDATE);

export const ConfigBody = z
  .strictObject({
    cpu_cores: UpdateVmFields.shape.cpu_cores,
    memory_mb: UpdateVmFields.shape.memory_mb,
    disk_gb: UpdateVmFields.shape.disk_gb,
    vnc_enabled: UpdateVmFields.shape.vnc_enabled,
    network_config: UpdateVmFields.shape.network,
  })
  .refine(somethingGiven, NOTHING_TO_UPDATE);

export const ResizeBody = z
  .strictObject({
    cpu_cores: UpdateVmFields.shape.cpu_cores,
    memory_mb: UpdateVmFields.shape.memory_mb,
    disk_gb: UpdateVmFields.shape.disk_gb,
  })
  .refine(somethingGiven, NOTHING_TO_UPDATE);

export const DeleteQuery = z.strictObject({
  // Kept unless asked: the example asks for it, and a disk deleted by a default is not coming back.
  delete_disks: DeleteOptions.shape.delete_disks.unwrap().default(false).describe("Delete the VM's disks too (default false)"),
});

export const RestartQuery = z.strictObject({ force: RestartOptions.shape.force.describe('Power-cycle instead of asking the guest') });

/** Actions take no parameters; anything in the query is a mistake worth saying. */
export const NoQuery = z.strictObject({});

// Answers

export const VmView = z.object({
  id: Vm.shape.number.describe("The VM's number"),
  name: Vm.shape.name,
  uuid: Vm.shape.id,
  status: Vm.shape.status,
  server: z
    .object({ id: z.int().nullable(), hostname: z.string().nullable() })
    .describe(
      "The VM's host; both fields are null unless the caller is a global admin (hosts are fleet infrastructure), or the VM has no host yet",
    ),
  resources: z.object({ cpu_cores: Vm.shape.cpu_cores, memory_mb: Vm.shape.memory_mb, disk_gb: Vm.shape.disk_gb }),
  network: z.object({ ip_address: Vm.shape.network.shape.ip_address, mac_address: Vm.shape.network.shape.mac_address }),
  os_type: Vm.shape.os_type,
  os_version: Vm.shape.os_version,
  vnc_port: Vm.shape.vnc_port,
  created_at: Vm.shape.created_at,
  updated_at: Vm.shape.updated_at,
});
export type VmView = z.infer<typeof VmView>;

export const VmListView = z.object({
  vms: z.array(VmView),
  total: z.int(),
  page: z.int(),
  per_page: z.int(),
  total_pages: z.int(),
});

export const ConfigView = z.object({
  id: Vm.shape.number,
  name: Vm.shape.name,
  uuid: Vm.shape.id,
  cpu_cores: VmConfig.shape.cpu_cores,
  memory_mb: VmConfig.shape.memory_mb,
  disk_gb: VmConfig.shape.disk_gb,
  os_type: VmConfig.shape.os_type,
  os_version: VmConfig.shape.os_version,
  vnc_enabled: VmConfig.shape.vnc_enabled,
  vnc_port: VmConfig.shape.vnc_port,
  network_config: z.object({ type: Vm.shape.network.shape.type, bridge_name: Vm.shape.network.shape.bridge_name }),
  xml_config: VmConfig.shape.xml_config,
});
export type ConfigView = z.infer<typeof ConfigView>;

export const OperationView = z.object({
  id: Vm.shape.number,
  name: Vm.shape.name,
  operation: z.string().describe('start, stop, force-stop, restart, reset or resize'),
  status: z.enum(['success', 'pending']).describe('pending (with 202) when the operation was still running after two minutes'),
  message: z.string(),
  details: z
    .object({ name: Vm.shape.name, status: z.string(), operation_id: z.uuid().optional() })
    .catchall(z.unknown())
    .describe(
      "`status`: what was done (started, stopped…), or while pending the VM's status; `operation_id` to follow a pending one at /api/v1/operations/{id}",
    ),
});
export type OperationView = z.infer<typeof OperationView>;

export const DeleteView = z.object({ message: z.string(), detail: z.string() });

export const ErrorView = z.object({
  detail: z.union([z.string(), z.array(z.object({ loc: z.array(z.union([z.string(), z.int()])), msg: z.string(), type: z.string() }))]),
  code: z.string().optional(),
  request_id: z.string().nullable().optional(),
});
