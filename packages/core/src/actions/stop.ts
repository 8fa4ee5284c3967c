import { z } from 'zod';
import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf, seconds } from './driver-calls.js';

export const StopOptions = MutationOptions.extend({
  /** Seconds the guest gets to shut down after ACPI power-off before it is forced off. */
  timeout_s: z.int().min(0).max(3600).default(30),
  /** Give the VM's GPUs back to the host once it is off (it takes them again when it starts, if any are free). */
  release_gpus: z.boolean().default(false),
});
export type StopOptions = z.input<typeof StopOptions>;

/** ACPI power-off, forced off once `timeout_s` passes. */
export const stop = defineAction({
  verb: 'stop',
  request: {
    options: StopOptions,
    plan: (o) => ({ input: { timeout_s: o.timeout_s, ...(o.release_gpus ? { release_gpus: true } : {}) }, extra_deadline_s: o.timeout_s }),
    api: { method: 'POST', path: '/vms/{id}/stop', summary: 'Stop a VM gracefully (ACPI, forced at the deadline)' },
  },
  async perform({ op, vm, driver, signal }) {
    const { forced } = await driver.shutdown(refOf(vm), { timeout_ms: seconds(op.input.timeout_s, 30) }, { signal });
    // The domain lets go of its GPUs before they are freed (when the operation ends) for other VMs.
    if (op.input.release_gpus === true && vm.gpu_devices.length > 0) await driver.reconfigure(refOf(vm), { gpus: [] }, { signal });
    return { status: 'stopped', data: { forced }, message: forced ? 'forced off at the deadline' : 'guest shut down' };
  },
});
