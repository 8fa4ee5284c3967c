export { ImageStore, type Ingested } from './store.js';
export { detectFormat } from './disk-format.js';
export { UrlPolicy, PUBLIC_ONLY } from './url-policy.js';
