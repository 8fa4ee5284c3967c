import { type Client, NotFoundError, ValidationError } from '@hangar/sdk';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What a VM's name can be (a DNS label): anything else names no VM. */
const VM_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** The largest VM number there can be: more digits can only be a name. */
const MAX_NUMBER = 2 ** 31 - 1;

/**
 * A VM named on the command line by its id, its number (`hgr vm start 42`) or its name (people
 * remember `web-1`, not a UUID). All digits is tried as a number first (deleted VMs included:
 * numbers are never reused), then as a name; a name is looked up among the project's VMs that
 * are not deleted.
 */
export async function resolveVmId(client: Client, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const digits = /^\d+$/.test(ref);
  if (digits && Number(ref) >= 1 && Number(ref) <= MAX_NUMBER) {
    const [byNumber] = (await client.listVms({ number: Number(ref), include_deleted: true, per_page: 1 }).page()).vms;
    if (byNumber) return byNumber.id;
  }
  const matches = VM_NAME.test(ref) ? (await client.listVms({ name: ref, per_page: 2 }).page()).vms : [];
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0)
    throw new NotFoundError(`No VM ${digits ? 'numbered or named' : 'named'} ${ref}`, { status: 404, code: 'VM_NOT_FOUND' });
  throw new ValidationError(`${matches.length} VMs are named ${ref}; give the id`, { status: null, code: 'VALIDATION' });
}
