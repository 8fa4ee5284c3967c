import { errors, HangarError, Uuid, type Vm, type VmPage } from '@hangar/core';
import type { NativeCalls } from './native-calls.js';

/** How a path names a VM: its id, its short number (`42`), or its name. */
export type VmRefKind = 'id' | 'number' | 'name';

const DIGITS = /^[1-9][0-9]{0,9}$/;

export function vmRefKind(ref: string): VmRefKind {
  if (Uuid.safeParse(ref).success) return 'id';
  if (DIGITS.test(ref)) return 'number';
  return 'name';
}

/**
 * The VM a path names, in the caller's project: by id (deleted ones too, as the native API
 * shows them), by short number, or by name (live VMs only: a name is free again once its VM is
 * deleted). A number that no VM has is tried as a name, since names may be digits too. A value
 * that is none of these is passed to the native filter, which refuses it with a 400.
 */
export async function resolveVm(native: NativeCalls, ref: string): Promise<Vm> {
  const kind = vmRefKind(ref);
  if (kind === 'id') return native.call<Vm>('vms.get', { id: ref });
  if (kind === 'number') {
    const page = await native.call<VmPage>('vms.list', { number: Number(ref), include_deleted: true, per_page: 1 });
    if (page.vms[0]) return page.vms[0];
  }
  const page = await native.call<VmPage>('vms.list', { name: ref, per_page: 1 }).catch((err: unknown) => {
    // Not a VM name at all (uppercase, a slash…): no VM can have it.
    if (err instanceof Error && 'code' in err && (err as { code: unknown }).code === 'BAD_REQUEST') throw vmNotFound(ref, kind);
    throw err;
  });
  if (page.vms[0]) return page.vms[0];
  throw vmNotFound(ref, kind);
}

function vmNotFound(ref: string, kind: VmRefKind): HangarError {
  return kind === 'name' ? new HangarError('VM_NOT_FOUND', `VM '${ref}' not found`) : errors.vmNotFound(ref);
}
