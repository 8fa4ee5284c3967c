import type { HardwareChanges } from '../domain/vm.js';
import type { ActionDefinition } from './action.js';
import { refOf } from './driver-calls.js';

/**
 * Changes a stopped VM's hardware, or its CD-ROM (an ISO image, or null to eject). Requested
 * by `services/update-vm.ts` and `services/vm-media.ts`.
 */
export const update_hardware: ActionDefinition = {
  verb: 'change the hardware of',
  async perform(ctx) {
    const { op, vm, driver, signal } = ctx;
    const changes = (op.input.changes ?? {}) as HardwareChanges;
    const iso = op.input.iso as { image_id: string | null } | undefined;
    let isoPath: { iso_path?: string | null } = {};
    if (iso) isoPath = { iso_path: iso.image_id ? (await ctx.image(iso.image_id)).path : null };
    const fromDriver = await driver.reconfigure(refOf(vm), { ...changes, ...isoPath }, { signal });
    const network = changes.network
      ? { ...changes.network, mac_address: fromDriver.mac_address ?? changes.network.mac_address }
      : undefined;
    return {
      status: 'stopped',
      vm: {
        ...changes,
        ...(iso ? { iso_image_id: iso.image_id } : {}),
        ...(network ? { network } : {}),
        ...(fromDriver.vnc_port !== undefined ? { vnc_port: fromDriver.vnc_port } : {}),
      },
    };
  },
};
