import { sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { hosts, operations, vms } from './schema.js';

/** What the fleet looks like now, as a monitoring scrape reads it. */
export interface FleetGauges {
  /** Operations queued and not yet claimed by any worker. */
  queued_operations: number;
  /** How long the oldest of them has waited, in seconds (0 when none waits). */
  oldest_queued_s: number;
  /** VMs not deleted, by status (statuses with none are absent). */
  vms_by_status: Record<string, number>;
  hosts_by_status: Record<string, number>;
  /**
   * This application's connections to the database, by state (`active`, `idle`, `idle in
   * transaction`, …), from pg_stat_activity: postgres.js keeps its pool's queues to itself, so
   * the database is asked. They are every process's that connects under the same
   * application_name (a fleet's API processes all do), this scrape's own included.
   */
  connections_by_state: Record<string, number>;
}

/**
 * Everything in one statement, so a scrape costs one round trip: the queue is read through the
 * partial index of open operations; the rest are counts over small tables (hosts) or one
 * sequential pass (vms) per scrape, not per request.
 */
export async function readFleetGauges(db: Db): Promise<FleetGauges> {
  const [row] = await db.execute<{
    queued: number;
    oldest_s: number;
    vms: Record<string, number> | null;
    hosts: Record<string, number> | null;
    connections: Record<string, number> | null;
  }>(sql`
    SELECT
      queue.queued,
      queue.oldest_s,
      (SELECT json_object_agg(status, n) FROM (
        SELECT status, count(*)::int AS n FROM ${vms} WHERE deleted_at IS NULL GROUP BY status) AS v) AS vms,
      (SELECT json_object_agg(status, n) FROM (
        SELECT status, count(*)::int AS n FROM ${hosts} GROUP BY status) AS h) AS hosts,
      (SELECT json_object_agg(state, n) FROM (
        SELECT COALESCE(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = current_setting('application_name')
        GROUP BY 1) AS c) AS connections
    FROM (
      SELECT count(*)::int AS queued, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest_s
      FROM ${operations} WHERE status = 'pending') AS queue`);
  return {
    queued_operations: row?.queued ?? 0,
    oldest_queued_s: Math.max(0, row?.oldest_s ?? 0),
    vms_by_status: row?.vms ?? {},
    hosts_by_status: row?.hosts ?? {},
    connections_by_state: row?.connections ?? {},
  };
}
