export * from './domain/index.js';
export * from './store/index.js';
export * from './drivers/index.js';
export * from './services/index.js';
export * from './worker/index.js';
export * from './control-plane.js';
export * from './archive/index.js';
export * from './images/index.js';
export { privateDir, PRIVATE_FILE_MODE } from './files/private.js';
