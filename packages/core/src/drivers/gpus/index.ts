export { markBootDisplay } from './boot-display.js';
export { type GroupMember, type IommuGroup, iommuEnabled, iommuGroupOf } from './iommu-group.js';
export { checkLockedMemory, MEMLOCK_SLACK_MB, type MemlockSources } from './memlock.js';
export { gpuNodeCpus, nodeCpus } from './numa.js';
export {
  checkPassthrough,
  type HostRoots,
  type PassthroughCheck,
  type PassthroughProblem,
  problemsReason,
  remainingProblems,
} from './passthrough-checks.js';
export { memoryFromName, PCI_IDS_PATHS, type PciIds, type PciNames, parsePciIds, pciIds, pciNames } from './pci-ids.js';
export { type PreflightOptions, preflightGpus } from './preflight.js';
export { rebindToVfio, type SysfsWrite } from './rebind.js';
export { oneGpuPerGroup } from './shared-groups.js';
export { type ScanOptions, scanGpus } from './sysfs-scan.js';
