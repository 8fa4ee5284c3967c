import { errors } from '../domain/errors.js';
import { isUniqueViolation } from './pg-errors.js';

const NAME_INDEX = 'vms_project_name_live_uq';

/** Runs a write that may take a VM name; the name index's violation becomes NAME_TAKEN. */
export async function nameGuard<T>(name: string | undefined, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (name !== undefined && isUniqueViolation(err, NAME_INDEX)) throw errors.nameTaken(name);
    throw err;
  }
}
