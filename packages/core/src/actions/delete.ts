import { z } from 'zod';
import { MutationOptions } from '../domain/operation.js';
import { defineAction } from './action.js';
import { ignoreMissing } from './driver-calls.js';

export const DeleteOptions = MutationOptions.extend({
  delete_disks: z.boolean().default(true),
  /** Delete even while an operation is in flight (it is cancelled). */
  force: z.boolean().default(false),
});
export type DeleteOptions = z.input<typeof DeleteOptions>;

/** A deleted VM: kept readable, without a domain. */
const deleted = () => ({ deleted_at: new Date(), domain_ref: null, vnc_port: null });

/** Powers the domain off and removes it (with its disks unless told otherwise). */
export const deleteAction = defineAction({
  verb: 'delete',
  request: {
    options: DeleteOptions,
    plan: (o) => ({ input: { delete_disks: o.delete_disks }, force: o.force }),
    api: { method: 'DELETE', path: '/vms/{id}', summary: 'Delete a VM' },
  },
  asked: deleted,
  async perform({ op, vm, driver, signal }) {
    const deleteDisks = op.input.delete_disks !== false;
    if (vm.domain_ref) {
      await driver.kill(vm.domain_ref, { signal }).catch(ignoreMissing);
      await driver.undefine(vm.domain_ref, { delete_disks: deleteDisks }, { signal }).catch(ignoreMissing);
    }
    return {
      status: 'deleted',
      vm: deleted(),
      data: { delete_disks: deleteDisks },
    };
  },
});
