import { z } from 'zod';
import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { refOf, seconds } from './driver-calls.js';

export const RestartOptions = MutationOptions.extend({
  /** Power off at once instead of asking the guest. */
  force: z.boolean().default(false),
  timeout_s: z.int().min(0).max(3600).default(30),
});
export type RestartOptions = z.input<typeof RestartOptions>;

/** A guest reboot (ACPI power-off, then power on), or with `force` a power cycle. */
export const restart = defineAction({
  verb: 'restart',
  request: {
    options: RestartOptions,
    plan: (o) => ({ input: { force: o.force, timeout_s: o.timeout_s }, extra_deadline_s: o.timeout_s }),
    api: { method: 'POST', path: '/vms/{id}/restart', summary: 'Restart a VM' },
  },
  async perform({ op, vm, driver, signal }) {
    const ref = refOf(vm);
    const call = { signal };
    if (op.input.force === true) {
      await driver.kill(ref, call);
      await driver.start(ref, call);
      return { status: 'running', data: { forced: true } };
    }
    const { forced } = await driver.reboot(ref, { timeout_ms: seconds(op.input.timeout_s, 30) }, call);
    return { status: 'running', data: { forced } };
  },
});
