import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../store/database.js';
import { operations } from '../store/schema.js';

/** Extends an operation's lease if `owner` still holds it; false when it was lost (cancelled, taken over). */
export async function renewLease(db: Db, opId: string, owner: string, lease_ms: number): Promise<boolean> {
  const rows = await db
    .update(operations)
    .set({ lease_expires_at: sql`now() + ${`${lease_ms} milliseconds`}::interval` })
    .where(and(eq(operations.id, opId), eq(operations.lease_owner, owner), eq(operations.status, 'running')))
    .returning({ id: operations.id });
  return rows.length > 0;
}
