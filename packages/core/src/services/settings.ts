import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../store/database.js';
import { settings } from '../store/schema.js';

/** A value generated once and then kept (first writer wins when several processes race). */
export async function getOrCreateSetting(db: Db, key: string, generate = () => randomBytes(32).toString('base64url')): Promise<string> {
  await db.insert(settings).values({ key, value: generate() }).onConflictDoNothing();
  const [row] = await db.select().from(settings).where(eq(settings.key, key));
  return row!.value;
}
