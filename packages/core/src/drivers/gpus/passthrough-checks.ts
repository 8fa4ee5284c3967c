import { join } from 'node:path';
import { iommuEnabled, iommuGroupOf } from './iommu-group.js';
import { bootDisplayReason, exists, isBootDisplay, linkName, pciDeviceDir, VFIO_DRIVER } from './sysfs.js';

export interface HostRoots {
  /** Where sysfs is mounted (a fixture tree in tests). */
  sysfsRoot: string;
  /** Where /dev is (for /dev/vfio/N). */
  devRoot: string;
}

export interface PassthroughProblem {
  /** A sentence naming the device, what is wrong and what to do. */
  reason: string;
  /** A rebind to vfio-pci (HANGAR_QEMU_GPU_REBIND) would solve it. */
  rebind: boolean;
}

export interface PassthroughCheck {
  address: string;
  /** The other functions of the GPU's card in its IOMMU group: QEMU gets them too. */
  companions: string[];
  /** The GPU and companions not yet on vfio-pci: what a rebind would take from the host. */
  unbound: string[];
  problems: PassthroughProblem[];
}

const REBIND_HINT = 'bind it to vfio-pci (or let Hangar rebind: HANGAR_QEMU_GPU_REBIND=true)';

const driverWords = (driver: string | null) => (driver === null ? 'is bound to no driver' : `is bound to ${driver}`);

/**
 * What keeps a GPU from being passed through to a VM with VFIO, checked on the host as the
 * kernel sees it: an IOMMU, the GPU and the other functions of its card on vfio-pci, no
 * device of its IOMMU group held by a host driver (the group goes to QEMU whole), and the
 * group's /dev/vfio/N. No problems: QEMU can open it.
 */
export async function checkPassthrough(address: string, roots: HostRoots): Promise<PassthroughCheck> {
  const result: PassthroughCheck = { address, companions: [], unbound: [], problems: [] };
  const fail = (reason: string, rebind = false) => {
    result.problems.push({ reason, rebind });
    return result;
  };
  const dir = pciDeviceDir(roots.sysfsRoot, address);
  if (!(await exists(dir))) return fail(`${address} is not a PCI device of this host (no ${dir}): it was removed or the address is wrong`);
  if (!(await iommuEnabled(roots.sysfsRoot))) {
    return fail(
      `${address} cannot be passed through: the IOMMU is off (${join(roots.sysfsRoot, 'kernel/iommu_groups')} is empty); ` +
        'turn on VT-d or AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)',
    );
  }
  const group = await iommuGroupOf(roots.sysfsRoot, address);
  if (!group) {
    return fail(`${address} has no IOMMU group although the IOMMU is on: the IOMMU does not cover its slot; check dmesg for why`);
  }
  const driver = await linkName(join(dir, 'driver'));
  if (driver !== VFIO_DRIVER) {
    // Taking the host's console away would leave it without a display: no rebind of it, ever.
    if (await isBootDisplay(roots.sysfsRoot, address)) {
      fail(bootDisplayReason(address, driver));
    } else {
      result.unbound.push(address);
      fail(`${address} ${driverWords(driver)}, not vfio-pci: ${REBIND_HINT}`, true);
    }
  }
  for (const m of group.members) {
    if (m.role === 'companion') {
      result.companions.push(m.address);
      if (m.driver === VFIO_DRIVER) continue;
      result.unbound.push(m.address);
      fail(
        `${m.address}, passed through with ${address} (a function of the same card, IOMMU group ${group.id}), ` +
          `${driverWords(m.driver)}, not vfio-pci: ${REBIND_HINT}`,
        true,
      );
    } else if (m.role === 'foreign') {
      fail(
        `${address} shares IOMMU group ${group.id} with ${m.address}, which the host uses (bound to ${m.driver}): ` +
          `the group goes to QEMU whole; unbind ${m.address} from ${m.driver}, or move the GPU to a slot with its own IOMMU group`,
      );
    }
  }
  // Only meaningful once the group is on vfio-pci: before that, its absence is the binding's fault, already said.
  const vfioNode = join(roots.devRoot, 'vfio', String(group.id));
  if (result.problems.length === 0 && !(await exists(vfioNode))) {
    fail(
      `${vfioNode} does not exist although ${address}'s IOMMU group ${group.id} is on vfio-pci: ` +
        'load the vfio modules (modprobe vfio-pci) and check that udev creates /dev/vfio',
    );
  }
  return result;
}

/** The problems the host keeps (those a rebind would not solve, when Hangar may rebind). */
export const remainingProblems = (check: PassthroughCheck, rebind: boolean) =>
  rebind ? check.problems.filter((p) => !p.rebind) : check.problems;

/** One sentence of all a GPU's problems, for a fault or its health. */
export const problemsReason = (problems: PassthroughProblem[]) => problems.map((p) => p.reason).join('; ');
