import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { errors, HangarError } from '../domain/errors.js';
import type { VmActionResult } from '../domain/operation.js';
import { DeleteOptions, MutationOptions, RestartOptions, StopOptions } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import { type OperationAction, rule } from '../domain/state-machine.js';
import type { VmStatus } from '../domain/status.js';
import {
  CreateVmInput,
  HARDWARE_FIELDS,
  type HardwareChanges,
  METADATA_FIELDS,
  type Network,
  type NetworkInput,
  UpdateVmInput,
} from '../domain/vm.js';
import type { Db } from '../store/database.js';
import { toOperation, toVm } from '../store/mappers.js';
import { notifyChange, notifyWork } from '../store/notifier.js';
import { operations, vms } from '../store/schema.js';
import { appendEvents } from './events.js';
import { reserve } from './hosts.js';
import { canonicalJson, idempotent } from './idempotency.js';
import { isUniqueViolation } from './pg-errors.js';
import { enforceQuota } from './quotas.js';
import { parse, parseId } from './validate.js';
import { beginAction, checkVersion, conflictError, inFlightOperation } from './vm-actions.js';
import { IMAGE_WAIT_S, vmMedia } from './vm-media.js';
import { requireVm } from './vm-queries.js';

const NAME_INDEX = 'vms_project_name_live_uq';

function normalizeNetwork(n: NetworkInput): Network {
  return {
    type: n.type,
    bridge_name: n.type === 'bridge' ? (n.bridge_name ?? null) : null,
    mac_address: n.mac_address ?? null,
    ip_address: n.ip_address ?? null,
  };
}

async function nameGuard<T>(name: string | undefined, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (name !== undefined && isUniqueViolation(err, NAME_INDEX)) throw errors.nameTaken(name);
    throw err;
  }
}

/** Creates a VM record (status provisioning) and the operation that defines it on a host. */
export async function createVm(db: Db, scope: Scope, rawInput: unknown, rawOpts: MutationOptions = {}): Promise<VmActionResult> {
  const input = parse(CreateVmInput, rawInput, 'VM');
  const opts = parse(MutationOptions, rawOpts, 'options');
  return nameGuard(input.name, () =>
    db.transaction((tx) =>
      idempotent(tx, scope, opts.idempotency_key, { action: 'create', input }, async () => {
        await enforceQuota(tx, scope.project_id, {
          vms: 1,
          cpu_cores: input.cpu_cores,
          memory_mb: input.memory_mb,
          disk_gb: input.disk_gb,
        });
        const hostId = await reserve(tx, { cpus: input.cpu_cores, memory_mb: input.memory_mb, disk_gb: input.disk_gb }, input.host_id);
        const media = await vmMedia(tx, scope, input);
        const now = new Date();
        const vmId = randomUUID();
        const opId = randomUUID();
        const [vm] = await tx
          .insert(vms)
          .values({
            id: vmId,
            project_id: scope.project_id,
            host_id: hostId,
            name: input.name,
            status: 'provisioning',
            cpu_cores: input.cpu_cores,
            memory_mb: input.memory_mb,
            disk_gb: input.disk_gb,
            os_type: input.os_type,
            os_version: input.os_version ?? null,
            labels: input.labels,
            public_ip: input.public_ip ?? null,
            network: normalizeNetwork(input.network),
            vnc_enabled: input.vnc_enabled,
            image_id: media.image_id,
            iso_image_id: media.iso_image_id,
            current_operation_id: opId,
            created_at: now,
            updated_at: now,
          })
          .returning();
        const [op] = await tx
          .insert(operations)
          .values({
            id: opId,
            vm_id: vmId,
            project_id: scope.project_id,
            host_id: hostId,
            action: 'create',
            input: { start: input.start },
            // An image still downloading gets its download's time on top.
            deadline_at: new Date(now.getTime() + (rule('create').deadline_s + (media.waits ? IMAGE_WAIT_S : 0)) * 1000),
            created_at: now,
            updated_at: now,
          })
          .returning();
        const base = { vm_id: vmId, project_id: scope.project_id, operation_id: opId };
        await appendEvents(tx, [
          { ...base, type: 'vm.created', message: `VM ${input.name} created`, to_status: 'provisioning' },
          { ...base, type: 'operation.queued', message: 'create requested', data: { start: input.start } },
        ]);
        await notifyChange(tx, { vm_id: vmId, operation_id: opId, status: 'provisioning' });
        await notifyWork(tx, hostId);
        return { vm: toVm(vm!), operation: toOperation(op!) };
      }),
    ),
  );
}

type ActionSchema = typeof MutationOptions | typeof StopOptions | typeof RestartOptions | typeof DeleteOptions;

/** One lifecycle action: validate, then in one transaction lock the VM and begin the action. */
async function act<S extends ActionSchema>(
  db: Db,
  scope: Scope,
  id: unknown,
  action: OperationAction,
  schema: S,
  rawOpts: unknown,
  plan: (opts: z.output<S>) => { input?: Record<string, unknown>; force?: boolean; extra_deadline_s?: number },
): Promise<VmActionResult> {
  const vmId = parseId(id, 'vm id');
  const opts = parse(schema, rawOpts ?? {}, 'options') as z.output<S>;
  const { idempotency_key, expected_version, ...rest } = opts as z.output<typeof MutationOptions>;
  return db.transaction((tx) =>
    idempotent(tx, scope, idempotency_key, { action, vm_id: vmId, opts: rest, expected_version }, async () => {
      const vm = await requireVm(tx, scope, vmId, true);
      return beginAction(tx, scope, vm, action, { ...plan(opts), expected_version, actor: scope.actor });
    }),
  );
}

const none = () => ({});

export const startVm = (db: Db, scope: Scope, id: string, opts?: MutationOptions) =>
  act(db, scope, id, 'start', MutationOptions, opts, none);

export const stopVm = (db: Db, scope: Scope, id: string, opts?: StopOptions) =>
  act(db, scope, id, 'stop', StopOptions, opts, (o) => ({ input: { timeout_s: o.timeout_s }, extra_deadline_s: o.timeout_s }));

export const forceStopVm = (db: Db, scope: Scope, id: string, opts?: MutationOptions) =>
  act(db, scope, id, 'force_stop', MutationOptions, opts, none);

export const restartVm = (db: Db, scope: Scope, id: string, opts?: RestartOptions) =>
  act(db, scope, id, 'restart', RestartOptions, opts, (o) => ({
    input: { force: o.force, timeout_s: o.timeout_s },
    extra_deadline_s: o.timeout_s,
  }));

export const resetVm = (db: Db, scope: Scope, id: string, opts?: MutationOptions) =>
  act(db, scope, id, 'reset', MutationOptions, opts, none);

export const pauseVm = (db: Db, scope: Scope, id: string, opts?: MutationOptions) =>
  act(db, scope, id, 'pause', MutationOptions, opts, none);

export const resumeVm = (db: Db, scope: Scope, id: string, opts?: MutationOptions) =>
  act(db, scope, id, 'resume', MutationOptions, opts, none);

export const deleteVm = (db: Db, scope: Scope, id: string, opts?: DeleteOptions) =>
  act(db, scope, id, 'delete', DeleteOptions, opts, (o) => ({ input: { delete_disks: o.delete_disks }, force: o.force }));

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/**
 * Metadata changes apply at once, in any state but deleted. Hardware changes need a stopped
 * VM and run as an `update_hardware` operation; the VM shows the new hardware once the
 * hypervisor has it. A request mixing both is all-or-nothing.
 */
export async function updateVm(
  db: Db,
  scope: Scope,
  id: string,
  rawPatch: unknown,
  rawOpts: MutationOptions = {},
): Promise<VmActionResult> {
  const vmId = parseId(id, 'vm id');
  const patch = parse(UpdateVmInput, rawPatch, 'update');
  const opts = parse(MutationOptions, rawOpts, 'options');
  return nameGuard(patch.name, () =>
    db.transaction((tx) =>
      idempotent(tx, scope, opts.idempotency_key, { action: 'update', vm_id: vmId, patch, opts }, async () => {
        let vm = await requireVm(tx, scope, vmId, true);
        checkVersion(vm, opts.expected_version);
        if (vm.status === 'deleted') {
          throw new HangarError('INVALID_STATE', `VM ${vm.id} is deleted and cannot be changed`, {
            status: 'deleted',
            allowed_actions: [],
            operation_id: null,
            retryable: false,
          });
        }
        const current: Record<string, unknown> = { ...vm };
        const meta: Record<string, unknown> = {};
        for (const f of METADATA_FIELDS) {
          if (patch[f] !== undefined && !same(patch[f], current[f])) meta[f] = patch[f];
        }
        const hw: HardwareChanges = {};
        for (const f of HARDWARE_FIELDS) {
          const v = f === 'network' && patch.network ? normalizeNetwork(patch.network) : patch[f];
          if (v !== undefined && !same(v, current[f])) (hw as Record<string, unknown>)[f] = v;
        }
        const hasHw = Object.keys(hw).length > 0;
        if (hasHw && vm.status !== 'stopped') {
          throw conflictError('update_hardware', vm, await inFlightOperation(tx, vm), vm.current_operation_id !== null);
        }
        if (hw.disk_gb !== undefined && hw.disk_gb < vm.disk_gb) {
          throw errors.validation(`disk_gb can only grow (it is ${vm.disk_gb})`, [
            { path: 'disk_gb', message: `must be at least ${vm.disk_gb}` },
          ]);
        }
        if (Object.keys(meta).length > 0) {
          const [updated] = await tx
            .update(vms)
            .set({ ...meta, version: sql`${vms.version} + 1`, updated_at: new Date() })
            .where(eq(vms.id, vm.id))
            .returning();
          vm = updated!;
          await appendEvents(tx, [
            {
              vm_id: vm.id,
              project_id: vm.project_id,
              type: 'vm.updated',
              message: `changed ${Object.keys(meta).join(', ')}`,
              data: { changes: meta },
            },
          ]);
          if (!hasHw) await notifyChange(tx, { vm_id: vm.id, operation_id: null, status: vm.status as VmStatus });
        }
        if (!hasHw) return { vm: toVm(vm), operation: null };
        const grow = {
          cpus: Math.max(0, (hw.cpu_cores ?? vm.cpu_cores) - vm.cpu_cores),
          memory_mb: Math.max(0, (hw.memory_mb ?? vm.memory_mb) - vm.memory_mb),
          disk_gb: Math.max(0, (hw.disk_gb ?? vm.disk_gb) - vm.disk_gb),
        };
        if (grow.cpus + grow.memory_mb + grow.disk_gb > 0) {
          await enforceQuota(tx, vm.project_id, { cpu_cores: grow.cpus, memory_mb: grow.memory_mb, disk_gb: grow.disk_gb });
          await reserve(tx, grow, vm.host_id);
        }
        return beginAction(tx, scope, vm, 'update_hardware', { input: { changes: hw, reserved: grow }, actor: scope.actor });
      }),
    ),
  );
}
