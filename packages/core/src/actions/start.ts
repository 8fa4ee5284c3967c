import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { gpusOf, refOf } from './driver-calls.js';

export const start = defineAction({
  verb: 'start',
  request: { options: MutationOptions, plan: () => ({}), api: { method: 'POST', path: '/vms/{id}/start', summary: 'Start a VM' } },
  async perform({ op, vm, driver, signal }) {
    // The GPUs the VM holds now (taken again after a release, or settled after an interrupted
    // change): its domain gets exactly these before it launches.
    const gpus = gpusOf(op.input);
    if (gpus) await driver.reconfigure(refOf(vm), { gpus }, { signal });
    await driver.start(refOf(vm), { signal });
    return { status: 'running' };
  },
});
