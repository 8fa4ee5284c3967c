import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { HangarError } from '../domain/errors.js';
import type { VmGpus } from '../domain/gpu.js';
import { MutationOptions, type VmActionResult } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import { rule } from '../domain/state-machine.js';
import { CreateVmInput, normalizeGpus, normalizeNetwork } from '../domain/vm.js';
import { type Placement, placeVm } from '../scheduler/place.js';
import { bindReservation, type PlacementRequest, type PlacementStrategy, type Resources } from '../scheduler/reserve.js';
import { type Db, isConflict, type Tx } from '../store/database.js';
import { vmGpuCopy } from '../store/gpu-rows.js';
import { toOperation, toVm } from '../store/mappers.js';
import { insertVmWithOperation, NotPlaced } from '../store/new-vm-rows.js';
import { notifyChange, notifyWork } from '../store/notifier.js';
import { eventRow, type NewEvent } from './events.js';
import { resolveHostForPlacement } from './hosts.js';
import { idempotent } from './idempotency.js';
import { nameGuard } from './name-guard.js';
import { RecentQuotaRows } from './quota-hint.js';
import { enforceQuota } from './quotas.js';
import { parse } from './validate.js';
import { IMAGE_WAIT_S, vmMedia } from './vm-media.js';

/** Creates a VM record (status provisioning) and the operation that defines it on a host. */
export async function createVm(
  db: Db,
  scope: Scope,
  rawInput: unknown,
  rawOpts: MutationOptions = {},
  placement: { strategy?: PlacementStrategy } = {},
): Promise<VmActionResult> {
  const input = parse(CreateVmInput, rawInput, 'VM');
  const opts = parse(MutationOptions, rawOpts, 'options');
  const gpus = normalizeGpus(input.gpus);
  // A VM without GPUs or images is placed by the statement that writes it: one statement fewer,
  // and its host's row is held from that statement to the commit only. GPUs are chosen under
  // the host's lock, and an image is registered after placement (its errors come after the
  // VM's own), so those VMs are placed first; so is one no host has room for, which says why.
  // A name taken is found by that same statement, before it is known whether the VM had room:
  // placed first, a VM with no room is refused for that, as it always was.
  const inStatement = !gpus && !input.iso_url && !input.image_id;
  if (inStatement && !opts.idempotency_key && !input.host_id && !quotaRows.has(scope.project_id)) {
    // The common create (no quota row, no idempotency key, no host named) is that one statement
    // alone, committed by itself: its host's row and the project's counter are held for the
    // statement and its commit only, not for the round trips of a transaction around it. Where
    // it does not apply (a quota to check, no room), it writes nothing and the create goes on
    // below as a transaction.
    try {
      return await nameGuard(input.name, () => writeVm(db, scope, input, placement, { placed: null, media: NO_MEDIA, alone: true }));
    } catch (err) {
      if (err instanceof HangarError && err.code === 'NAME_TAKEN') return createOnce(db, scope, input, opts, placement, gpus, false);
      if (!(err instanceof NotPlaced) && !isConflict(err)) throw err;
    }
  }
  try {
    return await createOnce(db, scope, input, opts, placement, gpus, inStatement);
  } catch (err) {
    const nameTaken = err instanceof HangarError && err.code === 'NAME_TAKEN';
    if (!(err instanceof NotPlaced) && !(inStatement && nameTaken)) throw err;
    return createOnce(db, scope, input, opts, placement, gpus, false);
  }
}

/** Projects of this process's creates seen with a quota row lately. */
const quotaRows = new RecentQuotaRows();

/** A VM made of no image or ISO. */
const NO_MEDIA: Media = { image_id: null, iso_image_id: null, waits: false };

type Media = Awaited<ReturnType<typeof vmMedia>>;

function createOnce(
  db: Db,
  scope: Scope,
  input: z.output<typeof CreateVmInput>,
  opts: z.output<typeof MutationOptions>,
  placement: { strategy?: PlacementStrategy },
  gpus: VmGpus | null,
  placeInStatement: boolean,
): Promise<VmActionResult> {
  return nameGuard(input.name, () =>
    db.transaction((tx) =>
      idempotent(tx, scope, opts.idempotency_key, { action: 'create', input }, async () => {
        const limited = await enforceQuota(tx, scope.project_id, {
          vms: 1,
          cpu_cores: input.cpu_cores,
          memory_mb: input.memory_mb,
          disk_gb: input.disk_gb,
          gpus: gpus?.count ?? 0,
        }).catch((err: unknown) => {
          // A quota refused is a quota row too.
          if (err instanceof HangarError && err.code === 'QUOTA_EXCEEDED') quotaRows.saw(scope.project_id, true);
          throw err;
        });
        quotaRows.saw(scope.project_id, limited);
        const chosen = input.host_id ? (await resolveHostForPlacement(tx, input.host_id)).id : null;
        const vmId = randomUUID();
        const request = placementRequest(input, placement, gpus, chosen);
        const placed = placeInStatement ? null : await placeVm(tx, vmId, resourcesOf(input), request);
        // After the VM's quota and placement: an image URL registers an image (its own quota and
        // events), and a request refused for the VM is refused for that first.
        const media = await vmMedia(tx, scope, input);
        return writeVm(tx, scope, input, placement, { vmId, placed, media, gpus, chosen });
      }),
    ),
  );
}

const resourcesOf = (input: z.output<typeof CreateVmInput>): Resources => ({
  cpus: input.cpu_cores,
  memory_mb: input.memory_mb,
  disk_gb: input.disk_gb,
});

function placementRequest(
  input: z.output<typeof CreateVmInput>,
  placement: { strategy?: PlacementStrategy },
  gpus: VmGpus | null,
  chosen: string | null,
): PlacementRequest {
  return { host_id: chosen, host_labels: input.placement?.host_labels, strategy: placement.strategy, new_vm: true, gpus };
}

/**
 * Writes a new VM, its create operation and their events, and announces them. `placed`: where
 * it was placed already; null: placed by the statement that writes it. `alone`: that statement
 * on its own, in no transaction (which then must not write it when the project has quotas).
 */
async function writeVm(
  tx: Tx,
  scope: Scope,
  input: z.output<typeof CreateVmInput>,
  placement: { strategy?: PlacementStrategy },
  how: { vmId?: string; placed: Placement | null; media: Media; gpus?: VmGpus | null; chosen?: string | null; alone?: boolean },
): Promise<VmActionResult> {
  const { placed, media } = how;
  const gpus = how.gpus ?? null;
  const vmId = how.vmId ?? randomUUID();
  const opId = randomUUID();
  const resources = resourcesOf(input);
  const request = placementRequest(input, placement, gpus, how.chosen ?? null);
  const now = new Date();
  const base = { vm_id: vmId, project_id: scope.project_id, operation_id: opId };
  const { vm, op } = await insertVmWithOperation(
    tx,
    {
      id: vmId,
      project_id: scope.project_id,
      host_id: placed?.host_id ?? null,
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
      gpu_count: gpus?.count ?? 0,
      gpu_model: gpus?.model ?? null,
      gpu_vendor: gpus?.vendor ?? null,
      gpu_devices: vmGpuCopy(placed?.gpus ?? []),
      image_id: media.image_id,
      iso_image_id: media.iso_image_id,
      current_operation_id: opId,
      created_at: now,
      updated_at: now,
    },
    {
      id: opId,
      vm_id: vmId,
      project_id: scope.project_id,
      host_id: placed?.host_id ?? null,
      action: 'create',
      input: { start: input.start },
      // An image still downloading gets its download's time on top.
      deadline_at: new Date(now.getTime() + (rule('create').deadline_s + (media.waits ? IMAGE_WAIT_S : 0)) * 1000),
      created_at: now,
      updated_at: now,
    },
    (
      [
        { ...base, type: 'vm.created', message: `VM ${input.name} created`, to_status: 'provisioning' },
        { ...base, type: 'operation.queued', message: 'create requested', data: { start: input.start } },
      ] satisfies NewEvent[]
    ).map(eventRow),
    placed ? undefined : (bind) => bindReservation(tx, resources, request, bind),
    { unlessQuota: how.alone },
  );
  await notifyChange(tx, { vm_id: vmId, operation_id: opId, status: 'provisioning', operation_open: true });
  await notifyWork(tx, vm.host_id);
  return { vm: toVm(vm), operation: toOperation(op) };
}
