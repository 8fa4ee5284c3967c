export { archiveDisk, archiveManifest, BAD_ARCHIVES, type BadArchive, goodArchive, makeTar } from './bad-archives.js';
export { startTestControlPlane, type TestControlPlane } from './control-plane.js';
export { createTestDatabase } from './database.js';
export { type ConformanceSubject, describeDriverConformance } from './driver-conformance.js';
export { freePort } from './free-port.js';
export { type FileRoute, serveFiles } from './http-files.js';
export {
  ensureDefaultNetwork,
  libvirtOverTcp,
  libvirtSkipReason,
  libvirtTestGuest,
  openRemote,
  startLibvirtd,
  stopLibvirtd,
  TEST_LIBVIRT_URI,
  typeOnSerial,
  virsh,
} from './libvirt.js';
export { qemuProcessesUnder, qemuSkipReason, testGuest, waitForText } from './qemu.js';
export { readRfbBanner } from './rfb-banner.js';
export { firstWords, StatementLog } from './statement-log.js';
export { buildSysfsFixture, FIXTURE_ADDRESSES, type FixtureRole, type SysfsFixture, type SysfsFixtureOptions } from './sysfs-fixture.js';
