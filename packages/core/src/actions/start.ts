import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf } from './driver-calls.js';

export const start = defineAction({
  verb: 'start',
  request: { options: MutationOptions, plan: () => ({}), api: { method: 'POST', path: '/vms/{id}/start', summary: 'Start a VM' } },
  async perform({ vm, driver, signal }) {
    await driver.start(refOf(vm), { signal });
    return { status: 'running' };
  },
});
