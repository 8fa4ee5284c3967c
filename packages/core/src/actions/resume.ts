import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf } from './driver-calls.js';

export const resume = defineAction({
  verb: 'resume',
  request: {
    options: MutationOptions,
    plan: () => ({}),
    api: { method: 'POST', path: '/vms/{id}/resume', summary: 'Resume a paused VM' },
  },
  async perform({ vm, driver, signal }) {
    await driver.resume(refOf(vm), { signal });
    return { status: 'running' };
  },
});
