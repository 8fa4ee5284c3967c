import type { HardwareChanges } from '../domain/vm.js';
import type { ActionDefinition } from './action.js';
import { gpusOf, refOf } from './driver-calls.js';

const changesOf = (input: Record<string, unknown>) => (input.changes ?? {}) as HardwareChanges;
const isoOf = (input: Record<string, unknown>) => input.iso as { image_id: string | null } | undefined;

/**
 * Changes a stopped VM's hardware, or its CD-ROM (an ISO image, or null to eject). Requested
 * by `services/update-vm.ts` and `services/vm-media.ts`.
 */
export const update_hardware: ActionDefinition = {
  verb: 'change the hardware of',
  asked(op) {
    const iso = isoOf(op.input);
    return { ...changesOf(op.input), ...(iso ? { iso_image_id: iso.image_id } : {}) };
  },
  async perform(ctx) {
    const { op, vm, driver, signal } = ctx;
    const changes = changesOf(op.input);
    const iso = isoOf(op.input);
    let isoPath: { iso_path?: string | null } = {};
    if (iso) isoPath = { iso_path: iso.image_id ? (await ctx.image(iso.image_id)).path : null };
    // The GPUs asked for are columns of the VM, not the domain's: the domain gets the GPUs taken for it.
    const { gpu_count: _n, gpu_model: _m, gpu_vendor: _v, ...hardware } = changes;
    const gpus = gpusOf(op.input);
    const fromDriver = await driver.reconfigure(refOf(vm), { ...hardware, ...isoPath, ...(gpus ? { gpus } : {}) }, { signal });
    const network = changes.network
      ? { ...changes.network, mac_address: fromDriver.mac_address ?? changes.network.mac_address }
      : undefined;
    return {
      status: 'stopped',
      vm: {
        ...update_hardware.asked!(op),
        ...(network ? { network } : {}),
        ...(fromDriver.vnc_port !== undefined ? { vnc_port: fromDriver.vnc_port } : {}),
      },
    };
  },
};
