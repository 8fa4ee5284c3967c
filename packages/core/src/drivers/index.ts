export * from './console-log.js';
export * from './definition.js';
export * from './driver.js';
export * from './gpus/index.js';
export * from './libvirt/index.js';
export * from './qemu/index.js';
export * from './registry.js';
export * from './simulated/index.js';
