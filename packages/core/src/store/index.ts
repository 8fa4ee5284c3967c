// What the server and tools use of the store: opening a database (embedded or external) and
// the change notifier. Queries stay behind the services and the store's own verbs.
export { connectPostgres } from './connect.js';
export {
  type Database,
  type Db,
  dataDirectory,
  isConflict,
  isDatabaseUnavailable,
  type OpenDatabaseOptions,
  openDatabase,
  pingDatabase,
  sqlState,
  TRANSACTION_ATTEMPTS,
  type Tx,
} from './database.js';
export { type EmbeddedCluster, startEmbeddedPostgres } from './embedded.js';
export { MIGRATIONS_FOLDER, runMigrations } from './migrate.js';
export { type ChangeNotice, Notifier } from './notifier.js';
