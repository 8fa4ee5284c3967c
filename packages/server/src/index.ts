export type { ErrorCode } from '@hangar/core';
export { type AppDeps, createApp } from './app.js';
export { type Config, loadConfig } from './config.js';
export { createLogger } from './logger.js';
export type { AppRouter } from './router.js';
export { appRouter } from './router.js';
export { type RunningServer, type ServerOptions, startServer } from './server.js';
