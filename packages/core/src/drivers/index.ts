export * from './driver.js';
export * from './qemu/index.js';
export * from './simulated/index.js';
