import { z } from 'zod';
import { LoginName, Password } from './auth.js';
import { ListEventsQuery } from './event.js';
import { Text, Uuid } from './fields.js';
import { Image, IsoSource, ONE_ISO_SOURCE } from './image.js';
import { ListOperationsQuery, MutationOptions, Operation } from './operation.js';
import { VmStatus } from './status.js';
import { CreateVmInput, NOTHING_TO_UPDATE, somethingToUpdate, UpdateVmFields, Vm } from './vm.js';

/**
 * The inputs and outputs of the API's procedures: the service inputs plus the target id and
 * the request options (idempotency, versions, waiting). tRPC, REST and the SDK share them.
 */

export const WaitFlag = {
  /** Answer only once the operation has finished (or `wait_timeout_ms` passed). */
  wait: z.boolean().default(false),
  wait_timeout_ms: z.int().min(0).max(86_400_000).default(600_000),
};

export const IdRequest = z.strictObject({ id: Uuid });

export const CreateVmRequest = CreateVmInput.extend({
  idempotency_key: MutationOptions.shape.idempotency_key,
  ...WaitFlag,
});
export type CreateVmRequest = z.input<typeof CreateVmRequest>;

export const UpdateVmRequest = UpdateVmFields.extend({ id: Uuid, ...MutationOptions.shape, ...WaitFlag }).refine(
  somethingToUpdate,
  NOTHING_TO_UPDATE,
);
export type UpdateVmRequest = z.input<typeof UpdateVmRequest>;

export const VmActionRequest = MutationOptions.extend({ id: Uuid, ...WaitFlag });
export type VmActionRequest = z.input<typeof VmActionRequest>;
/** An action's request: its options, the VM's id and the wait flags. */
export const actionRequest = <Shape extends z.ZodRawShape>(options: z.ZodObject<Shape>) =>
  z.strictObject({ ...options.shape, id: Uuid, ...WaitFlag });

export const ListEventsRequest = ListEventsQuery.extend({ id: Uuid });
export type ListEventsRequest = z.input<typeof ListEventsRequest>;

export const WaitVmRequest = z.strictObject({
  id: Uuid,
  /** The status, or any of several, to wait for. */
  status: z.union([VmStatus, z.array(VmStatus).min(1)]),
  /** How long the server holds the request; the caller decides, up to a day. */
  timeout_ms: z.int().min(0).max(86_400_000).default(60_000),
});
export type WaitVmRequest = z.input<typeof WaitVmRequest>;
export const WaitVmResult = z.object({ vm: Vm, timed_out: z.boolean() }).meta({ id: 'WaitVmResult' });

export const WaitOperationRequest = z.strictObject({
  id: Uuid,
  timeout_ms: z.int().min(0).max(86_400_000).default(60_000),
});
export type WaitOperationRequest = z.input<typeof WaitOperationRequest>;
export const WaitOperationResult = z.object({ operation: Operation, timed_out: z.boolean() }).meta({ id: 'WaitOperationResult' });

/** Waiting for an image: the same request as for an operation. */
export const WaitImageRequest = WaitOperationRequest;
export const WaitImageResult = z.object({ image: Image, timed_out: z.boolean() }).meta({ id: 'WaitImageResult' });

export const OperationPage = z.object({ operations: z.array(Operation), next_cursor: z.string().nullable() }).meta({ id: 'OperationPage' });
export { ListOperationsQuery };

/** Also the OAuth2 password grant's form: `grant_type=password&username=…&password=…`. */
export const TokenRequest = z.strictObject({
  /** A username, or `project/username` when the name is used in several projects. */
  username: LoginName,
  // Any length is tried (a short one is a failed sign-in, 401); what no password may hold is a 400.
  password: Password.or(Text.min(1).max(1024)),
  grant_type: z.literal('password').optional(),
  scope: z.string().max(1024).optional(),
  client_id: z.string().max(256).optional(),
});
export const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal('bearer'),
    expires_in: z.int(),
  })
  .meta({ id: 'TokenResponse' });

/** A VM's hardware configuration, as the config routes show it. */
export const VmConfig = Vm.pick({
  id: true,
  name: true,
  status: true,
  cpu_cores: true,
  memory_mb: true,
  disk_gb: true,
  os_type: true,
  os_version: true,
  vnc_enabled: true,
  vnc_port: true,
  network: true,
  gpus: true,
  gpu_devices: true,
  version: true,
})
  .extend({
    /** The domain XML libvirt holds for the VM, read-only; null where the driver keeps none (or the VM has no domain yet). */
    xml_config: z.string().nullable(),
  })
  .meta({ id: 'VmConfig' });
export type VmConfig = z.infer<typeof VmConfig>;

const HardwareFields = UpdateVmFields.pick({
  cpu_cores: true,
  memory_mb: true,
  disk_gb: true,
  vnc_enabled: true,
  network: true,
  gpus: true,
});

/** Hardware only (the VM must be stopped). */
export const ConfigureVmRequest = HardwareFields.extend({ id: Uuid, ...MutationOptions.shape, ...WaitFlag }).refine(
  somethingToUpdate,
  NOTHING_TO_UPDATE,
);
export const ResizeVmRequest = HardwareFields.pick({ cpu_cores: true, memory_mb: true, disk_gb: true, gpus: true })
  .extend({ id: Uuid, ...MutationOptions.shape, ...WaitFlag })
  .refine(somethingToUpdate, NOTHING_TO_UPDATE);

// Images and the CD-ROM

export const AttachIsoRequest = IsoSource.extend({ id: Uuid, ...MutationOptions.shape, ...WaitFlag }).refine(...ONE_ISO_SOURCE);
