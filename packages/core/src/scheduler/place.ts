import { errors } from '../domain/errors.js';
import { requestWords, type VmGpus } from '../domain/gpu.js';
import type { Tx } from '../store/database.js';
import { heldGpus, lockFreeGpus, takeGpus } from '../store/gpu-rows.js';
import type { GpuDeviceRow } from '../store/schema.js';
import { explainNoPlacement } from './explain.js';
import { chooseGpus } from './gpu-choice.js';
import { type PlacementRequest, type Resources, reserve } from './reserve.js';

/** Where a new VM goes, and the GPUs it gets there. */
export interface Placement {
  host_id: string;
  gpus: GpuDeviceRow[];
}

/** A host looked right (its GPUs counted) but another create took them first. */
class LostRace extends Error {}

/**
 * Places a new VM: reserves room on a host and, when it asks for GPUs, gives it specific ones
 * there, in the caller's transaction. A create that read a host's free GPUs just before a
 * concurrent create took them finds too few under the row locks: that attempt is rolled back
 * (a savepoint) and placement runs again on fresh data, without that host.
 */
export async function placeVm(tx: Tx, vmId: string, r: Resources, p: PlacementRequest): Promise<Placement> {
  const need = p.gpus && p.gpus.count > 0 ? p.gpus : null;
  if (!need) return { host_id: await reserve(tx, r, p), gpus: [] };
  const exclude = [...(p.exclude ?? [])];
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await tx.transaction(async (sp) => {
        const hostId = await reserve(sp, r, { ...p, exclude });
        const chosen = chooseGpus(await lockFreeGpus(sp, hostId, need), need.count);
        if (!chosen) {
          exclude.push(hostId);
          throw new LostRace();
        }
        await takeGpus(
          sp,
          chosen.map((g) => g.id),
          vmId,
          false,
        );
        return { host_id: hostId, gpus: chosen };
      });
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
      if (p.host_id) return explainNoPlacement(tx, r, p);
    }
  }
  return explainNoPlacement(tx, r, { ...p, exclude });
}

/** Whether a held GPU is one the VM's request accepts. */
function accepts(ask: VmGpus, g: GpuDeviceRow): boolean {
  const has = (words: string[], asked: string | null) => !asked || requestWords(asked).every((w) => words.includes(w));
  return has(g.model_words, ask.model) && has(g.vendor_words, ask.vendor);
}

/** How the GPUs a VM holds change to meet its request. */
export interface GpuFit {
  /** What it holds afterwards (the domain is given these). */
  held: GpuDeviceRow[];
  /** Taken now for it. */
  added: GpuDeviceRow[];
  /** To free once its domain no longer has them. */
  dropped: GpuDeviceRow[];
}

/**
 * Makes what a VM on its host holds meet its request (a stopped VM resized, or starting again
 * after it released them): the GPUs it holds that still match are kept, others dropped, and
 * what is missing is taken from its host's free GPUs (503 naming the model when there are too
 * few: a VM does not move host for a GPU). The caller frees `dropped` when the domain is done with them.
 */
export async function fitGpus(
  tx: Tx,
  vm: { id: string; host_id: string | null },
  ask: VmGpus | null,
  /** Called with how many GPUs are to be taken, before they are (a quota check). */
  beforeTaking: (more: number) => Promise<void> = async () => {},
): Promise<GpuFit> {
  const holding = await heldGpus(tx, vm.id);
  const want = ask?.count ?? 0;
  // An unhealthy GPU the VM holds is kept (its start then fails with the reason): swapping it
  // for a healthy one silently would hide the fault from the people who must fix it.
  const keep = ask ? holding.filter((g) => accepts(ask, g)).slice(0, want) : [];
  const dropped = holding.filter((g) => !keep.includes(g));
  const missing = want - keep.length;
  if (missing <= 0 || !ask) return { held: keep, added: [], dropped };
  await beforeTaking(missing);
  if (!vm.host_id) throw errors.hostUnavailable('The VM has no host to take GPUs on');
  const free = await lockFreeGpus(tx, vm.host_id, ask);
  const chosen = chooseGpus(free, missing);
  if (!chosen) {
    const kind = [ask.vendor, ask.model].filter(Boolean).join(' ');
    throw errors.insufficientCapacity(
      `The VM's host has ${free.length} free ${kind ? `${kind} ` : ''}GPU${free.length === 1 ? '' : 's'}; it needs ${missing} more`,
      { missing: ['GPUs'], gpus: { count: ask.count, model: ask.model, vendor: ask.vendor } },
    );
  }
  await takeGpus(
    tx,
    chosen.map((g) => g.id),
    vm.id,
  );
  return { held: [...keep, ...chosen], added: chosen, dropped };
}
