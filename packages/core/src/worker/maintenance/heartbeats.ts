import { and, eq, isNotNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../store/database.js';
import { hosts } from '../../store/schema.js';
import type { DriftWatch } from './drift.js';

/** Seconds without a heartbeat after which an agent's host is offline (HANGAR_HEARTBEAT_TIMEOUT_S). */
export const DEFAULT_HEARTBEAT_TIMEOUT_S = 30;

/**
 * Host loss: an agent's host that has not reported for `timeout_s` goes offline and its settled
 * VMs `unknown` (they may well still run; nobody can say). Its next report settles them again.
 * Hosts served by a worker inside an API process are checked by that process's drift pass.
 */
export async function loseSilentHosts(db: Db, drift: DriftWatch, timeout_s: number): Promise<number> {
  const silent = await db
    .select({ id: hosts.id, name: hosts.name, last_seen_at: hosts.last_seen_at })
    .from(hosts)
    .where(
      and(
        eq(hosts.status, 'online'),
        isNotNull(hosts.agent_credential_hash),
        lt(hosts.last_seen_at, sql`now() - ${`${timeout_s} seconds`}::interval`),
      ),
    );
  for (const h of silent) {
    await drift.hostLost(h.id, `no heartbeat from its agent since ${h.last_seen_at?.toISOString() ?? 'it joined'}`);
  }
  return silent.length;
}
