import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf } from './driver-calls.js';

/** The reset button: the guest starts over without powering off. */
export const reset = defineAction({
  verb: 'reset',
  request: { options: MutationOptions, plan: () => ({}), api: { method: 'POST', path: '/vms/{id}/reset', summary: 'Hard-reset a VM' } },
  async perform({ vm, driver, signal }) {
    await driver.reset(refOf(vm), { signal });
    return { status: 'running' };
  },
});
