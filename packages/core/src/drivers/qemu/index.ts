export { QemuDriver, type QemuDriverOptions } from './driver.js';
export { QmpClient, QmpError, type QmpEvent } from './qmp.js';
export { QemuImg } from './qemu-img.js';
export { scanGpus } from './gpus.js';
export { chooseAccel, type AccelSetting, type AccelChoice } from './accel.js';
export { qemuArgs, type DirectBoot } from './command-line.js';
export { vmLayout } from './layout.js';
export type { DomainRecord } from './domain-record.js';
