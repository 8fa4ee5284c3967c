export type { AppRouter } from './router.js';
export { appRouter } from './router.js';
export { createApp, type AppDeps } from './app.js';
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export { loadConfig, type Config } from './config.js';
export { createLogger } from './logger.js';
