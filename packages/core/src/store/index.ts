export * from './database.js';
export { runMigrations, MIGRATIONS_FOLDER } from './migrate.js';
export { startEmbeddedPostgres, type EmbeddedCluster } from './embedded.js';
export { connectPostgres } from './connect.js';
export * as tables from './schema.js';
export * from './mappers.js';
export * from './notifier.js';
