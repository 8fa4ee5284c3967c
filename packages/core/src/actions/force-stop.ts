import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf } from './driver-calls.js';

/** Power off at once; preempts whatever operation is running (see the state table). */
export const force_stop = defineAction({
  verb: 'force-stop',
  request: {
    options: MutationOptions,
    plan: () => ({}),
    api: { method: 'POST', path: '/vms/{id}/force-stop', summary: 'Power a VM off at once' },
  },
  async perform({ vm, driver, signal }) {
    await driver.kill(refOf(vm), { signal });
    return { status: 'stopped' };
  },
});
