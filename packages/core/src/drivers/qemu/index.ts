export { type AccelChoice, type AccelSetting, chooseAccel } from './accel.js';
export { type DirectBoot, launchArgv, qemuArgs } from './command-line.js';
export { qemuDefinition } from './definition.js';
export type { DomainRecord } from './domain-record.js';
// The driver classes are not exported here: a server loads them only when chosen (`definition.ts`).
// Import them from `@hangar/core/drivers/qemu`.
export type { QemuDriverOptions } from './driver.js';
export { vmLayout } from './layout.js';
export { QemuImg } from './qemu-img.js';
export { QmpClient, QmpError, type QmpEvent } from './qmp.js';
