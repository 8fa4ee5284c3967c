import { z } from 'zod';
import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf, seconds } from './driver-calls.js';

export const StopOptions = MutationOptions.extend({
  /** Seconds the guest gets to shut down after ACPI power-off before it is forced off. */
  timeout_s: z.int().min(0).max(3600).default(30),
});
export type StopOptions = z.input<typeof StopOptions>;

/** ACPI power-off, forced off once `timeout_s` passes. */
export const stop = defineAction({
  verb: 'stop',
  request: {
    options: StopOptions,
    plan: (o) => ({ input: { timeout_s: o.timeout_s }, extra_deadline_s: o.timeout_s }),
    api: { method: 'POST', path: '/vms/{id}/stop', summary: 'Stop a VM gracefully (ACPI, forced at the deadline)' },
  },
  async perform({ op, vm, driver, signal }) {
    const { forced } = await driver.shutdown(refOf(vm), { timeout_ms: seconds(op.input.timeout_s, 30) }, { signal });
    return { status: 'stopped', data: { forced }, message: forced ? 'forced off at the deadline' : 'guest shut down' };
  },
});
