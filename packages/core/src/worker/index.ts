export { type Ending, finishOperation } from './finish.js';
export { consoleLogger, type Logger, silentLogger } from './logger.js';
export { observe, statusFromDomain } from './observe.js';
export { Reconciler, type ReconcilerOptions } from './reconciler.js';
export { Worker, type WorkerOptions } from './worker.js';
