export { type AccelChoice, type AccelSetting, chooseAccel } from './accel.js';
export { type DirectBoot, launchArgv, qemuArgs } from './command-line.js';
export { qemuDefinition } from './definition.js';
export type { DomainRecord } from './domain-record.js';
export { QemuDriver, type QemuDriverOptions } from './driver.js';
export { vmLayout } from './layout.js';
export { QemuImg } from './qemu-img.js';
export { QmpClient, QmpError, type QmpEvent } from './qmp.js';
