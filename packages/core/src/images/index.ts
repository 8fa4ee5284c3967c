export { ImageStore, type Ingested } from './store.js';
export { detectFormat } from './disk-format.js';
