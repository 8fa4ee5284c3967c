import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { gpusOf, refOf } from './driver-calls.js';

export const start = defineAction({
  verb: 'start',
  request: { options: MutationOptions, plan: () => ({}), api: { method: 'POST', path: '/vms/{id}/start', summary: 'Start a VM' } },
  async perform({ op, vm, driver, signal }) {
    // GPUs taken again for this start (the VM released them at a stop): its domain gets them first.
    const gpus = gpusOf(op.input);
    if (gpus) await driver.reconfigure(refOf(vm), { gpus }, { signal });
    await driver.start(refOf(vm), { signal });
    return { status: 'running' };
  },
});
