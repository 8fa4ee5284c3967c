export { Client, type ClientOptions, type CallOptions, type MutationOptions, type WaitOptions } from './client.js';
export { VmList } from './pagination.js';
export type { ExportOptions, ImportOptions, WritableLike } from './transfers.js';
export {
  HangarError,
  ValidationError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  RateLimitError,
  ServerError,
  ConnectionError,
  TimeoutError,
  OperationFailedError,
} from './errors.js';
export type * from './types.js';
