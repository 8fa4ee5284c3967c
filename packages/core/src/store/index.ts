// Lock order. Every transaction that touches a host and its VMs takes rows in this order: the
// project's quota row (`enforceQuota`), the VM (`lockVm`), its operation (`lockOperation`),
// the host (`reserve`, `release`, `markOnline`), the host's GPU rows (`lockFreeGpus`). A
// create reserves the host before it inserts its new VM: the only VM row it can wait on is an
// older one of the same name being deleted, a deadlock PostgreSQL breaks and `db.transaction`
// runs again (40P01 and 40001 are retried, see database.ts).
//
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
export { EventFeed, type EventFeedOptions } from './event-feed.js';
export type { EventQuery } from './event-rows.js';
export { type FleetGauges, readFleetGauges } from './fleet-gauges.js';
export { MIGRATIONS_FOLDER, runMigrations } from './migrate.js';
export { type ChangeNotice, Notifier } from './notifier.js';
