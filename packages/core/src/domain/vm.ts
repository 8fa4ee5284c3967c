import { z } from 'zod';
import {
  BridgeName,
  CpuCores,
  DiskGb,
  IpAddress,
  Labels,
  MacAddress,
  MemoryMb,
  NetworkType,
  OsType,
  OsVersion,
  Timestamp,
  Uuid,
  VmName,
} from './fields.js';
import { canonicalGpuName, GpuRequest, VmGpuDevice, VmGpus } from './gpu.js';
import { HostLabels, HostName } from './host.js';
import { ImageUrl } from './image.js';
import { VmAction } from './state-machine.js';
import { VmStatus } from './status.js';

export const Network = z
  .object({
    type: NetworkType,
    bridge_name: BridgeName.nullable(),
    mac_address: MacAddress.nullable(),
    ip_address: IpAddress.nullable(),
  })
  .meta({ id: 'Network' });
export type Network = z.infer<typeof Network>;

/** What a caller may say about the network; the platform fills in the rest (a MAC, for one). */
export const NetworkInput = z
  .strictObject({
    type: NetworkType.default('nat'),
    bridge_name: BridgeName.nullish(),
    mac_address: MacAddress.nullish(),
    ip_address: IpAddress.nullish(),
  })
  .refine((n) => n.type !== 'bridge' || !!n.bridge_name, {
    message: 'bridge_name is required when type is bridge',
    path: ['bridge_name'],
  });
export type NetworkInput = z.infer<typeof NetworkInput>;

export const Vm = z
  .object({
    id: Uuid,
    /** A short number, unique in the VM's project and never reused: `vm 42`. */
    number: z.int(),
    name: VmName,
    project_id: Uuid,
    host_id: Uuid.nullable(),
    status: VmStatus,
    cpu_cores: CpuCores,
    memory_mb: MemoryMb,
    disk_gb: DiskGb,
    os_type: OsType,
    os_version: OsVersion.nullable(),
    labels: z.record(z.string(), z.string()),
    public_ip: IpAddress.nullable(),
    network: Network,
    vnc_enabled: z.boolean(),
    vnc_port: z.int().nullable(),
    /** The GPUs the VM asked for; null when none. */
    gpus: VmGpus.nullable(),
    /** The GPUs it holds now (a stopped VM stopped with `release_gpus` holds none until it starts again). */
    gpu_devices: z.array(VmGpuDevice),
    /** The image the VM's disk was made from (or its boot ISO), if any. */
    image_id: Uuid.nullable(),
    /** The ISO image in the VM's CD-ROM drive, if any. */
    iso_image_id: Uuid.nullable(),
    allowed_actions: z.array(VmAction),
    /** The operation in flight on this VM, if any. */
    current_operation_id: Uuid.nullable(),
    last_error: z.string().nullable(),
    version: z.int(),
    created_at: Timestamp,
    updated_at: Timestamp,
    deleted_at: Timestamp.nullable(),
  })
  .meta({ id: 'Vm' });
export type Vm = z.infer<typeof Vm>;

export const CreateVmInput = z.strictObject({
  name: VmName,
  cpu_cores: CpuCores.default(2),
  memory_mb: MemoryMb.default(4096),
  disk_gb: DiskGb.default(30),
  os_type: OsType.default('linux'),
  os_version: OsVersion.nullish(),
  labels: Labels.default({}),
  public_ip: IpAddress.nullish(),
  network: NetworkInput.default({ type: 'nat' }),
  vnc_enabled: z.boolean().default(true),
  /** GPUs passed through from the host: the scheduler picks a host with this many free GPUs of that model. */
  gpus: GpuRequest.optional(),
  /** Place the VM on this host (its id, its number or its name: all digits is tried as a number first; global admins only); otherwise the scheduler picks one. */
  host_id: z.union([Uuid, HostName]).nullish(),
  /** What the scheduler must honour when it picks the host. */
  placement: z
    .strictObject({
      /** Only hosts carrying all these labels (each key with that value). */
      host_labels: HostLabels.default({}),
    })
    .optional(),
  /** Boot from this ISO: it is downloaded into the image store (once per URL) and attached as a CD-ROM. */
  iso_url: ImageUrl.optional(),
  /** An image from the store: an ISO is attached as a CD-ROM, a disk image becomes the VM's disk. */
  image_id: Uuid.optional(),
  /** Start the VM once it is provisioned. */
  start: z.boolean().default(false),
});
export type CreateVmInput = z.input<typeof CreateVmInput>;
export type CreateVm = z.output<typeof CreateVmInput>;

/** Fields that change what the hypervisor runs: only while the VM is stopped. */
export const HARDWARE_FIELDS = ['cpu_cores', 'memory_mb', 'disk_gb', 'network', 'vnc_enabled', 'gpus'] as const;
/** Fields that describe the VM to people: changeable in any state but deleted. */
export const METADATA_FIELDS = ['name', 'labels', 'public_ip', 'os_type', 'os_version'] as const;

export const UpdateVmFields = z.strictObject({
  name: VmName.optional(),
  labels: Labels.optional(),
  public_ip: IpAddress.nullable().optional(),
  os_type: OsType.optional(),
  os_version: OsVersion.nullable().optional(),
  cpu_cores: CpuCores.optional(),
  memory_mb: MemoryMb.optional(),
  disk_gb: DiskGb.optional(),
  network: NetworkInput.optional(),
  vnc_enabled: z.boolean().optional(),
  /** The GPUs the VM should hold (more are taken on its host, fewer are freed); `{count: 0}` for none. */
  gpus: GpuRequest.optional(),
});

const somethingToUpdate = (u: Record<string, unknown>) => [...HARDWARE_FIELDS, ...METADATA_FIELDS].some((f) => u[f] !== undefined);
export const NOTHING_TO_UPDATE = { message: 'nothing to update: give at least one field to change' };

export const UpdateVmInput = UpdateVmFields.refine(somethingToUpdate, NOTHING_TO_UPDATE);
export { somethingToUpdate };
export type UpdateVmInput = z.input<typeof UpdateVmInput>;
export type UpdateVm = z.output<typeof UpdateVmInput>;

export type HardwareChanges = Partial<Pick<Vm, 'cpu_cores' | 'memory_mb' | 'disk_gb' | 'vnc_enabled'>> & {
  network?: Network;
  /** The GPUs asked for, as stored (columns of the VM). */
  gpu_count?: number;
  gpu_model?: string | null;
  gpu_vendor?: string | null;
};

/** A GPU request as stored and shown: null for none. */
export function normalizeGpus(g: GpuRequest | null | undefined): VmGpus | null {
  if (!g || g.count === 0) return null;
  return { count: g.count, model: g.model ? canonicalGpuName(g.model) : null, vendor: g.vendor ? canonicalGpuName(g.vendor) : null };
}

/** A network as stored: a bridge name only on bridges, unknown addresses as null. */
export function normalizeNetwork(n: NetworkInput): Network {
  return {
    type: n.type,
    bridge_name: n.type === 'bridge' ? (n.bridge_name ?? null) : null,
    mac_address: n.mac_address ?? null,
    ip_address: n.ip_address ?? null,
  };
}
