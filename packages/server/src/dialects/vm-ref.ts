import { errors, HangarError, Uuid, type Vm, VmName, type VmPage } from '@hangar/core';
import type { NativeCalls } from './native-calls.js';

/** How a path names a VM: its id, its short number (`42`), or its name. */
export type VmRefKind = 'id' | 'number' | 'name';

const DIGITS = /^[1-9][0-9]{0,9}$/;
/** Numbers are 32-bit: larger digits can only be a name. */
const MAX_NUMBER = 2 ** 31 - 1;

export function vmRefKind(ref: string): VmRefKind {
  if (Uuid.safeParse(ref).success) return 'id';
  if (DIGITS.test(ref) && Number(ref) <= MAX_NUMBER) return 'number';
  return 'name';
}

/**
 * The VM a path names, in the caller's project: by id (deleted ones too, as the native API
 * shows them), by short number, or by name (live VMs only: a name is free again once its VM is
 * deleted). Names may be digits too: digits that are both a live VM's number and another live
 * VM's name are refused (409) rather than guessed, since acting on the wrong VM cannot be
 * undone; a deleted VM's number gives way to a live VM of that name.
 */
export async function resolveVm(native: NativeCalls, ref: string): Promise<Vm> {
  const kind = vmRefKind(ref);
  if (kind === 'id') return native.call<Vm>('vms.get', { id: ref });
  const byNumber =
    kind === 'number'
      ? (await native.call<VmPage>('vms.list', { number: Number(ref), include_deleted: true, per_page: 1 })).vms[0]
      : undefined;
  const byName = VmName.safeParse(ref).success ? (await native.call<VmPage>('vms.list', { name: ref, per_page: 1 })).vms[0] : undefined;
  if (byNumber && byName && byNumber.id !== byName.id) {
    if (byNumber.deleted_at) return byName;
    throw new HangarError(
      'NAME_TAKEN',
      `'${ref}' is both VM number ${ref} and the name of another VM: name it by its id (${byNumber.id} or ${byName.id})`,
      { retryable: false },
    );
  }
  const vm = byNumber ?? byName;
  if (vm) return vm;
  throw vmNotFound(ref, kind);
}

/** As `resolveVm`, but a deleted VM is not found: for routes that act on a VM. */
export async function resolveLiveVm(native: NativeCalls, ref: string): Promise<Vm> {
  const vm = await resolveVm(native, ref);
  if (vm.deleted_at) throw vmNotFound(ref, vmRefKind(ref));
  return vm;
}

function vmNotFound(ref: string, kind: VmRefKind): HangarError {
  return kind === 'name' ? new HangarError('VM_NOT_FOUND', `VM '${ref}' not found`) : errors.vmNotFound(ref);
}
