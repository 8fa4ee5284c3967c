import { type Client, NotFoundError, ValidationError } from '@hangar/sdk';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A VM named on the command line by its id or by its name (people remember `web-1`, not a
 * UUID). A name is looked up among the project's VMs that are not deleted.
 */
export async function resolveVmId(client: Client, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const matches = [];
  for await (const vm of client.listVms({ search: ref, per_page: 100 })) if (vm.name === ref) matches.push(vm);
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) throw new NotFoundError(`No VM named ${ref}`, { status: 404, code: 'VM_NOT_FOUND' });
  throw new ValidationError(`${matches.length} VMs are named ${ref}; give the id`, { status: null, code: 'VALIDATION' });
}
