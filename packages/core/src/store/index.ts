export { connectPostgres } from './connect.js';
export * from './database.js';
export { type EmbeddedCluster, startEmbeddedPostgres } from './embedded.js';
export * from './mappers.js';
export { MIGRATIONS_FOLDER, runMigrations } from './migrate.js';
export * from './notifier.js';
