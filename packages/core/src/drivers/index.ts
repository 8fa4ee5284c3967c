export * from './driver.js';
export * from './simulated/index.js';
export * from './qemu/index.js';
