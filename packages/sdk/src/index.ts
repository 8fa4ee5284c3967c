export { type CallOptions, Client, type ClientOptions, type MutationOptions, type WaitOptions } from './client.js';
export {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  HangarError,
  NotFoundError,
  OperationFailedError,
  PermissionDeniedError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
} from './errors.js';
export { VmList } from './pagination.js';
export type { ExportOptions, ImportOptions, WritableLike } from './transfers.js';
export type * from './types.js';
