import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf } from './driver-calls.js';

export const pause = defineAction({
  verb: 'pause',
  request: { options: MutationOptions, plan: () => ({}), api: { method: 'POST', path: '/vms/{id}/pause', summary: 'Pause a VM' } },
  async perform({ vm, driver, signal }) {
    await driver.pause(refOf(vm), { signal });
    return { status: 'paused' };
  },
});
