import { lt, sql } from 'drizzle-orm';
import type { Db } from '../../store/database.js';
import { idempotencyKeys } from '../../store/schema.js';

/** One number for all of Hangar's processes: whoever holds this advisory lock does the housekeeping. */
const HOUSEKEEPING_LOCK = 0x48414e47; // "HANG"

/**
 * Chores no request waits for: forgetting idempotency keys older than `ttl_ms`. Every process
 * runs the reconciler, but one pass at a time across all of them does this (a transaction-level
 * advisory lock), and not every few seconds. Returns how many keys went, or null when another
 * process held the lock.
 */
export async function houseKeep(db: Db, opts: { idempotency_ttl_ms: number }): Promise<number | null> {
  return db.transaction(async (tx) => {
    const [got] = await tx.execute<{ locked: boolean }>(sql`SELECT pg_try_advisory_xact_lock(${HOUSEKEEPING_LOCK}) AS locked`);
    if (!got?.locked) return null;
    const gone = await tx
      .delete(idempotencyKeys)
      .where(lt(idempotencyKeys.created_at, new Date(Date.now() - opts.idempotency_ttl_ms)))
      .returning({ key: idempotencyKeys.key });
    return gone.length;
  });
}
