import type { ApiKey, Role, User } from '../domain/auth.js';
import type { VmEvent } from '../domain/event.js';
import type { Gpu } from '../domain/gpu.js';
import type { Host } from '../domain/host.js';
import type { Image } from '../domain/image.js';
import type { Operation } from '../domain/operation.js';
import type { Project } from '../domain/project.js';
import type { OperationAction } from '../domain/state-machine.js';
import { allowedActions } from '../domain/state-machine.js';
import type { VmStatus } from '../domain/status.js';
import type { Vm } from '../domain/vm.js';
import type { ApiKeyRow, EventRow, GpuDeviceRow, HostRow, ImageRow, OperationRow, ProjectRow, UserRow, VmRow } from './schema.js';

/** Rows to wire shapes: timestamps become ISO strings, `allowed_actions` is derived, internals stay behind. */

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export function toVm(row: VmRow): Vm {
  const status = row.status as VmStatus;
  return {
    id: row.id,
    number: row.number,
    name: row.name,
    project_id: row.project_id,
    host_id: row.host_id,
    status,
    cpu_cores: row.cpu_cores,
    memory_mb: row.memory_mb,
    disk_gb: row.disk_gb,
    os_type: row.os_type as Vm['os_type'],
    os_version: row.os_version,
    labels: row.labels,
    public_ip: row.public_ip,
    network: row.network,
    vnc_enabled: row.vnc_enabled,
    vnc_port: row.vnc_port,
    gpus: row.gpu_count > 0 ? { count: row.gpu_count, model: row.gpu_model, vendor: row.gpu_vendor } : null,
    gpu_devices: row.gpu_devices,
    image_id: row.image_id,
    iso_image_id: row.iso_image_id,
    allowed_actions: allowedActions(status),
    current_operation_id: row.current_operation_id,
    last_error: row.last_error,
    version: row.version,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    deleted_at: isoOrNull(row.deleted_at),
  };
}

export function toOperation(row: OperationRow): Operation {
  return {
    id: row.id,
    vm_id: row.vm_id,
    project_id: row.project_id,
    action: row.action as OperationAction,
    status: row.status as Operation['status'],
    input: row.input,
    error: row.error,
    attempts: row.attempts,
    deadline_at: iso(row.deadline_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    started_at: isoOrNull(row.started_at),
    finished_at: isoOrNull(row.finished_at),
  };
}

/** A VM's event: rows read by VM id, so both ids are there (only image and host events lack them). */
export function toEvent(row: EventRow): VmEvent {
  return {
    id: row.id,
    vm_id: row.vm_id!,
    project_id: row.project_id!,
    operation_id: row.operation_id,
    type: row.type as VmEvent['type'],
    message: row.message,
    from_status: row.from_status as VmStatus | null,
    to_status: row.to_status as VmStatus | null,
    data: row.data,
    created_at: iso(row.created_at),
  };
}

export function toGpu(row: GpuDeviceRow, host_name: string): Gpu {
  return {
    id: row.id,
    host_id: row.host_id,
    host_name,
    address: row.address,
    vendor_id: row.vendor_id,
    device_id: row.device_id,
    vendor: row.vendor,
    model: row.model,
    memory_mb: row.memory_mb,
    iommu_group: row.iommu_group,
    numa_node: row.numa_node,
    driver: row.driver,
    health: row.health as Gpu['health'],
    health_reason: row.health_reason,
    vm_id: row.vm_id,
    updated_at: iso(row.updated_at),
  };
}

/** A host with its GPU rows (those of other hosts in `gpus` are passed by). */
export function toHost(row: HostRow, gpus: GpuDeviceRow[]): Host {
  const mine = gpus.filter((g) => g.host_id === row.id).map((g) => toGpu(g, row.name));
  return {
    id: row.id,
    number: row.number,
    name: row.name,
    driver: row.driver,
    status: row.status as Host['status'],
    status_reason: row.status_reason,
    capacity: { cpus: row.cpus, memory_mb: row.memory_mb, disk_gb: row.disk_gb },
    allocated: { cpus: row.allocated_cpus, memory_mb: row.allocated_memory_mb, disk_gb: row.allocated_disk_gb },
    gpus: mine,
    gpus_free: mine.filter((g) => g.vm_id === null && g.health === 'healthy').length,
    gpus_used: mine.filter((g) => g.vm_id !== null).length,
    labels: row.labels,
    cordoned: row.cordoned || row.draining,
    draining: row.draining,
    agent_version: row.agent_version,
    last_seen_at: isoOrNull(row.last_seen_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function toProject(row: ProjectRow): Project {
  return { id: row.id, name: row.name, created_at: iso(row.created_at), updated_at: iso(row.updated_at) };
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    project_id: row.project_id,
    role: row.role as Role,
    global_admin: row.global_admin,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    user_id: row.user_id,
    project_id: row.project_id,
    role: row.role as Role,
    created_at: row.created_at.toISOString(),
    last_used_at: isoOrNull(row.last_used_at),
    expires_at: isoOrNull(row.expires_at),
    revoked_at: isoOrNull(row.revoked_at),
  };
}

export function toImage(row: ImageRow): Image {
  return {
    id: row.id,
    project_id: row.project_id,
    name: row.name,
    kind: row.kind as Image['kind'],
    format: row.format as Image['format'],
    status: row.status as Image['status'],
    source_url: row.source_url,
    expected_sha256: row.expected_sha256,
    sha256: row.sha256,
    size_bytes: row.size_bytes,
    progress: { bytes_done: row.bytes_done, bytes_total: row.bytes_total },
    error: row.error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
