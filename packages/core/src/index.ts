export * from './actions/index.js';
export * from './control-plane.js';
export * from './domain/index.js';
export * from './drivers/index.js';
export { PRIVATE_FILE_MODE, privateDir } from './files/private.js';
export * from './images/index.js';
export * from './services/index.js';
export * from './store/index.js';
export * from './worker/index.js';
