export { type CallOptions, Client, type ClientOptions, type MutationOptions, type WaitOptions } from './client.js';
export {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  HangarError,
  type HangarErrorCode,
  NotFoundError,
  OperationFailedError,
  PermissionDeniedError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
} from './errors.js';
export { PagePromise, type VmList } from './pagination.js';
export type { ExportOptions, ImportOptions, WritableLike } from './transfers.js';
export type * from './types.js';
export type { WatchEvent, WatchFilter, WatchOptions } from './watch.js';
