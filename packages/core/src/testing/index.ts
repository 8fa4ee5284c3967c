export { createTestDatabase } from './database.js';
export { freePort } from './free-port.js';
export { startTestControlPlane, type TestControlPlane } from './control-plane.js';
export { qemuSkipReason, testGuest, qemuProcessesUnder, waitForText } from './qemu.js';
export { serveFiles, type FileRoute } from './http-files.js';
export { BAD_ARCHIVES, goodArchive, makeTar, archiveManifest, archiveDisk, type BadArchive } from './bad-archives.js';
