import { z } from 'zod';
import { CpuCores, DiskGb, LabelKey, MemoryMb, OsType, Text, Timestamp, Uuid } from './fields.js';
import { VmGpuDevice } from './gpu.js';
import { HostInventory, HostLabels, HostName } from './host.js';
import { VmAction } from './state-machine.js';
import { STABLE_STATUSES, VmStatus } from './status.js';
import { Network } from './vm.js';

/**
 * What `hangar agent` and the API say to each other. Everything an agent reports crosses a
 * trust boundary (a host may be compromised) and is parsed by these schemas, once, on the API.
 */

/** Agent credentials start with this; the rest is random. Only their hash is stored. */
export const AGENT_CREDENTIAL_PREFIX = 'hga_';
/** Join tokens start with this. */
export const JOIN_TOKEN_PREFIX = 'hgj_';

/** Whether every string in a JSON value (keys too) is one PostgreSQL's jsonb can store. */
function storableText(value: unknown): boolean {
  if (typeof value === 'string') return Text.safeParse(value).success;
  if (Array.isArray(value)) return value.every(storableText);
  if (value && typeof value === 'object') return Object.entries(value).every(([k, v]) => storableText(k) && storableText(v));
  return true;
}

/** A name a worker gives itself (one agent process): part of the lease it holds. */
export const WorkerId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'letters, digits, ".", "_" and "-", at most 64' });

/** A hypervisor's handle for a domain. */
export const DomainRef = Text.min(1).max(512);

export const DomainStateName = z.enum(['running', 'paused', 'stopped', 'crashed', 'missing']);

export const JoinToken = z
  .object({
    id: Uuid,
    description: z.string(),
    created_at: Timestamp,
    expires_at: Timestamp,
    revoked_at: Timestamp.nullable(),
  })
  .meta({ id: 'JoinToken' });
export type JoinToken = z.infer<typeof JoinToken>;

export const CreateJoinTokenInput = z.strictObject({
  description: Text.max(200).default(''),
  /** How long agents may join with it. */
  expires_in_hours: z
    .int()
    .min(1)
    .max(24 * 365)
    .default(24),
});
export type CreateJoinTokenInput = z.input<typeof CreateJoinTokenInput>;

export const CreatedJoinToken = z
  .object({
    join_token: JoinToken,
    /** The token itself, shown once: give it to `hangar agent` as HANGAR_JOIN_TOKEN. */
    token: z.string(),
  })
  .meta({ id: 'CreatedJoinToken' });
export type CreatedJoinToken = z.infer<typeof CreatedJoinToken>;

export const DriverKindName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);

/** An agent's first call: a join token traded for credentials bound to one host. */
export const AgentJoinRequest = z.strictObject({
  token: z.string().min(1).max(200),
  name: HostName,
  driver: DriverKindName,
  version: Text.max(64),
  inventory: HostInventory,
  labels: HostLabels.default({}),
});
export type AgentJoinRequest = z.input<typeof AgentJoinRequest>;

export const AgentJoinAnswer = z.object({ host_id: Uuid, credential: z.string() });
export type AgentJoinAnswer = z.infer<typeof AgentJoinAnswer>;

/** An agent (re)starting with credentials it has: what its host has now. */
export const AgentHelloRequest = z.strictObject({
  driver: DriverKindName,
  version: Text.max(64),
  inventory: HostInventory,
});

export const ReportedDomain = z.strictObject({ ref: DomainRef, vm_id: Uuid.nullable(), state: DomainStateName });

/** How old a heartbeat's listing may be: an older one says nothing about now (and is refused). */
export const MAX_REPORT_AGE_MS = 5 * 60_000;

/** When an agent asked its hypervisor: an older answer says nothing about now (and is refused). */
const AskedAt = Timestamp.refine((t) => Date.parse(t) > Date.now() - MAX_REPORT_AGE_MS, {
  message: 'the report is too old (or its clock is off): ask the hypervisor again',
});

/** A heartbeat: what the hypervisor lists (or why it could not), asked at `asked_at`. */
export const HostReport = z.strictObject({
  asked_at: AskedAt,
  /** Null when the hypervisor could not be listed; `unavailable` then says why. */
  domains: z.array(ReportedDomain).max(100_000).nullable(),
  unavailable: Text.max(2000).nullable(),
  /** Sent when it changed or the host was offline: what the host has. */
  inventory: HostInventory.optional(),
});
export type HostReport = z.infer<typeof HostReport>;

/** A state change the hypervisor noticed by itself, reported at once. */
export const ReportedChange = z.strictObject({
  ref: DomainRef,
  state: DomainStateName,
  reason: Text.max(2000),
  event: Text.max(100).optional(),
  /**
   * When the agent heard it. A VM changed since then (an operation ended) is not moved by it: the
   * change was that operation's doing. Absent (an older agent): when the server hears it.
   */
  observed_at: AskedAt.optional(),
});
export type ReportedChange = z.infer<typeof ReportedChange>;

export const ClaimRequest = z.strictObject({
  worker_id: WorkerId,
  /** How long to wait for work when there is none (a long-poll). */
  wait_ms: z.int().min(0).max(60_000).default(25_000),
});

/** An operation as its host needs it to carry it out. */
export const AgentOperation = z.object({
  id: Uuid,
  vm_id: Uuid,
  project_id: Uuid,
  action: VmAction,
  input: z.record(z.string(), z.unknown()),
  attempts: z.int(),
  deadline_at: Timestamp,
});
export type AgentOperation = z.infer<typeof AgentOperation>;

/** A VM as its host needs it to carry out an operation. */
export const AgentVm = z.object({
  id: Uuid,
  name: z.string(),
  status: VmStatus,
  cpu_cores: CpuCores,
  memory_mb: MemoryMb,
  disk_gb: DiskGb,
  os_type: OsType,
  network: Network,
  vnc_enabled: z.boolean(),
  domain_ref: z.string().nullable(),
  image_id: Uuid.nullable(),
  iso_image_id: Uuid.nullable(),
  /** The GPUs it holds (given to its domain at create, and at a start that took them again). */
  gpu_devices: z.array(VmGpuDevice).max(64).default([]),
});
export type AgentVm = z.infer<typeof AgentVm>;

export const WorkItem = z.object({ operation: AgentOperation, vm: AgentVm });
export type WorkItem = z.infer<typeof WorkItem>;

export const LeaseRequest = z.strictObject({ worker_id: WorkerId, operation_id: Uuid });

/** What the host changed on the VM: the API takes only what the operation's action may change. */
export const ReportedVmChanges = z.strictObject({
  domain_ref: DomainRef.nullable().optional(),
  vnc_port: z.int().min(0).max(65_535).nullable().optional(),
  network: Network.optional(),
  cpu_cores: CpuCores.optional(),
  memory_mb: MemoryMb.optional(),
  disk_gb: DiskGb.optional(),
  vnc_enabled: z.boolean().optional(),
  iso_image_id: Uuid.nullable().optional(),
  deleted_at: Timestamp.nullable().optional(),
});

export const ReportedEnding = z.strictObject({
  worker_id: WorkerId,
  operation_id: Uuid,
  result: z.enum(['succeeded', 'failed']),
  error: Text.max(4000).optional(),
  outcome: z.strictObject({
    status: z.enum(STABLE_STATUSES),
    vm: ReportedVmChanges.optional(),
    data: z
      .record(LabelKey, z.json())
      .refine((d) => JSON.stringify(d).length <= 16_384, { message: 'at most 16 KiB' })
      .refine(storableText, { message: 'strings may not contain NUL characters or unpaired surrogates' })
      .optional(),
    message: Text.max(2000).optional(),
  }),
});
export type ReportedEnding = z.infer<typeof ReportedEnding>;

export const DeferRequest = z.strictObject({
  worker_id: WorkerId,
  operation_id: Uuid,
  delay_ms: z.int().min(0).max(3_600_000),
  reason: Text.max(2000),
});

/** The handle of a domain an operation defined, recorded before the operation ends (so a crash orphans nothing). */
export const CheckpointRequest = z.strictObject({
  worker_id: WorkerId,
  operation_id: Uuid,
  domain_ref: DomainRef,
  vnc_port: z.int().min(0).max(65_535).nullable().optional(),
  network: Network.optional(),
});

/** An image a host fetches for an operation: what to check the bytes against. */
export const AgentImage = z.object({
  id: Uuid,
  kind: z.enum(['iso', 'disk']),
  format: z.string(),
  size_bytes: z.int(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AgentImage = z.infer<typeof AgentImage>;

export const ImageWaitRequest = z.strictObject({ worker_id: WorkerId, operation_id: Uuid, image_id: Uuid });
