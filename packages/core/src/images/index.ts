export { detectFormat } from './disk-format.js';
export { ImageStore, type Ingested } from './store.js';
export { PUBLIC_ONLY, UrlPolicy } from './url-policy.js';
