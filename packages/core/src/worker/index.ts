export { Worker, type WorkerOptions } from './worker.js';
export { Reconciler, type ReconcilerOptions } from './reconciler.js';
export { finishOperation, type Ending } from './finish.js';
export { observe, statusFromDomain } from './observe.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';
