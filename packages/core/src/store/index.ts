export * from './database.js';
export { runMigrations, MIGRATIONS_FOLDER } from './migrate.js';
export { startEmbeddedPostgres, freePort, type EmbeddedCluster } from './embedded.js';
export * as tables from './schema.js';
export * from './mappers.js';
export * from './notifier.js';
