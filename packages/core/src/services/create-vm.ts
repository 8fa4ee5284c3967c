import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { HangarError } from '../domain/errors.js';
import type { VmGpus } from '../domain/gpu.js';
import { MutationOptions, type VmActionResult } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import { rule } from '../domain/state-machine.js';
import { CreateVmInput, normalizeGpus, normalizeNetwork } from '../domain/vm.js';
import { placeVm } from '../scheduler/place.js';
import { type PlacementStrategy, reservation } from '../scheduler/reserve.js';
import type { Db, Tx } from '../store/database.js';
import { vmGpuCopy } from '../store/gpu-rows.js';
import { GroupCommit } from '../store/group-commit.js';
import { toOperation, toVm } from '../store/mappers.js';
import { insertVmWithOperation, NotPlaced } from '../store/new-vm-rows.js';
import { notifyChange, notifyWork } from '../store/notifier.js';
import { eventRow, type NewEvent } from './events.js';
import { resolveHostForPlacement } from './hosts.js';
import { idempotent, lockIdempotencyKeys } from './idempotency.js';
import { nameGuard } from './name-guard.js';
import { enforceQuota } from './quotas.js';
import { parse } from './validate.js';
import { IMAGE_WAIT_S, vmMedia } from './vm-media.js';

/** A create, parsed: what the one path and a group commit both carry out. */
interface Create {
  scope: Scope;
  input: z.output<typeof CreateVmInput>;
  opts: z.output<typeof MutationOptions>;
  placement: { strategy?: PlacementStrategy };
  gpus: VmGpus | null;
}

/** A batch rolled back by one of its creates (its own error, as `cause`): nothing of it was written. */
class BatchRolledBack extends Error {}

/**
 * Creates VMs (status provisioning) and the operations that define them on a host. A project's
 * creates that come together are written in one transaction (a group commit): each create holds
 * its project's counter row (and its host's row) from its insert to its commit, so one
 * transaction a create made a project's creates wait on each other's commits, one at a time.
 * Projects are batched apart: one project's slow or refused creates hold up no other's.
 */
export class VmCreator {
  private readonly batches = new Map<string, GroupCommit<Create, VmActionResult>>();

  constructor(
    private readonly db: Db,
    private readonly placement: { strategy?: PlacementStrategy } = {},
  ) {}

  async create(scope: Scope, rawInput: unknown, rawOpts: MutationOptions = {}): Promise<VmActionResult> {
    const c = parseCreate(scope, rawInput, rawOpts, this.placement);
    // Batched: a VM placed by the statement that writes it on any host with room. The others go
    // alone: GPUs or an image (placed first), and a host named (batches naming hosts in two
    // orders would wait on each other's hosts).
    return placedInStatement(c) && !c.input.host_id ? this.batchesOf(scope.project_id).write(c) : createParsed(this.db, c);
  }

  private batchesOf(projectId: string): GroupCommit<Create, VmActionResult> {
    let batches = this.batches.get(projectId);
    if (!batches) {
      batches = new GroupCommit({
        many: (creates) => createMany(this.db, creates),
        one: (c) => createParsed(this.db, c),
        // Only a batch a create's own error rolled back is known to have written nothing (an
        // error at the COMMIT may come after it was written): the rest is every caller's error.
        rolledBack: (err) => err instanceof BatchRolledBack,
        onIdle: () => this.batches.delete(projectId),
      });
      this.batches.set(projectId, batches);
    }
    return batches;
  }
}

function parseCreate(scope: Scope, rawInput: unknown, rawOpts: MutationOptions, placement: { strategy?: PlacementStrategy }): Create {
  const input = parse(CreateVmInput, rawInput, 'VM');
  const opts = parse(MutationOptions, rawOpts, 'options');
  return { scope, input, opts, placement, gpus: normalizeGpus(input.gpus) };
}

/**
 * A VM without GPUs or images is placed by the statement that writes it: one statement fewer,
 * and its host's row is held from that statement to the commit only. GPUs are chosen under the
 * host's lock, and an image is registered after placement (its errors come after the VM's own),
 * so those VMs are placed first; so is one no host has room for, which says why.
 */
const placedInStatement = (c: Create) => !c.gpus && !c.input.iso_url && !c.input.image_id;

async function createParsed(db: Db, c: Create): Promise<VmActionResult> {
  // A name taken is found by the placing statement, before it is known whether the VM had
  // room: placed first, a VM with no room is refused for that, as it always was.
  const inStatement = placedInStatement(c);
  try {
    return await createOnce(db, c, inStatement);
  } catch (err) {
    const nameTaken = err instanceof HangarError && err.code === 'NAME_TAKEN';
    if (!(err instanceof NotPlaced) && !(inStatement && nameTaken)) throw err;
    return createOnce(db, c, false);
  }
}

function createOnce(db: Db, c: Create, placeInStatement: boolean): Promise<VmActionResult> {
  return nameGuard(c.input.name, () =>
    db.transaction((tx) =>
      idempotent(tx, c.scope, c.opts.idempotency_key, { action: 'create', input: c.input }, () => createRows(tx, c, placeInStatement)),
    ),
  );
}

/**
 * One project's creates placed by their statements, in one transaction, in the order they came.
 * Their idempotency keys are locked first, in one order, as a create alone locks its one before
 * anything else. Any create's error rolls the batch back, to be run again one create at a time
 * (`BatchRolledBack`): a name taken, a quota reached, no room, a key reused for another request.
 */
async function createMany(db: Db, creates: Create[]): Promise<VmActionResult[]> {
  const projectId = creates[0]!.scope.project_id;
  const keys = creates.flatMap((c) => (c.opts.idempotency_key ? [c.opts.idempotency_key] : []));
  let refused: { err: unknown } | null = null;
  try {
    return await db.transaction(async (tx) => {
      refused = null;
      const out: VmActionResult[] = [];
      try {
        await lockIdempotencyKeys(tx, projectId, keys);
        for (const c of creates) {
          out.push(
            await idempotent(tx, c.scope, c.opts.idempotency_key, { action: 'create', input: c.input }, () => createRows(tx, c, true)),
          );
        }
      } catch (err) {
        refused = { err };
        throw err;
      }
      return out;
    });
  } catch (err) {
    if (refused) throw new BatchRolledBack('a create of the batch failed', { cause: (refused as { err: unknown }).err });
    throw err;
  }
}

/** A create's rows, in the caller's transaction: its quota, its host, the VM, its operation and events. */
async function createRows(tx: Tx, c: Create, placeInStatement: boolean): Promise<VmActionResult> {
  const { scope, input, placement, gpus } = c;
  await enforceQuota(tx, scope.project_id, {
    vms: 1,
    cpu_cores: input.cpu_cores,
    memory_mb: input.memory_mb,
    disk_gb: input.disk_gb,
    gpus: gpus?.count ?? 0,
  });
  const chosen = input.host_id ? (await resolveHostForPlacement(tx, input.host_id)).id : null;
  const vmId = randomUUID();
  const opId = randomUUID();
  const resources = { cpus: input.cpu_cores, memory_mb: input.memory_mb, disk_gb: input.disk_gb };
  const request = { host_id: chosen, host_labels: input.placement?.host_labels, strategy: placement.strategy, new_vm: true, gpus };
  const placed = placeInStatement ? null : await placeVm(tx, vmId, resources, request);
  // After the VM's quota and placement: an image URL registers an image (its own quota and
  // events), and a request refused for the VM is refused for that first.
  const media = await vmMedia(tx, scope, input);
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
    placeInStatement ? (bind) => reservation(tx, resources, request, bind) : undefined,
  );
  await notifyChange(tx, { vm_id: vmId, operation_id: opId, status: 'provisioning' });
  await notifyWork(tx, vm.host_id);
  return { vm: toVm(vm), operation: toOperation(op) };
}
