import type { HardwareChanges } from '../domain/vm.js';
import { DriverError } from '../drivers/driver.js';
import { readyImage } from '../worker/media.js';
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
    if (iso) {
      if (iso.image_id && !ctx.images) throw new DriverError('unavailable', 'this worker has no image store');
      isoPath = { iso_path: iso.image_id ? ctx.images!.pathOf((await readyImage(ctx.db, iso.image_id, signal)).id) : null };
    }
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
