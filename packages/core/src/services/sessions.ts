import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Principal, Role } from '../domain/auth.js';
import { HangarError } from '../domain/errors.js';
import type { Db } from '../store/database.js';
import { settings, users, type UserRow } from '../store/schema.js';
import { DECOY_HASH, verifyPassword } from './passwords.js';

function principalOf(user: UserRow, via: Principal['via']): Principal {
  return {
    user_id: user.id,
    username: user.username,
    project_id: user.project_id,
    role: user.role as Role,
    global_admin: user.global_admin,
    via,
    api_key_id: null,
  };
}

/** Username and password to a principal; the same answer, and the same work, for an unknown user. */
export async function authenticatePassword(db: Db, username: string, password: string): Promise<Principal> {
  const [user] = await db.select().from(users).where(eq(users.username, username));
  const ok = await verifyPassword(password, user?.password_hash ?? (await DECOY_HASH));
  if (!user || !user.password_hash || !ok) throw new HangarError('UNAUTHENTICATED', 'Incorrect username or password');
  return principalOf(user, 'password');
}

/** The principal for a user named in a token we issued; gone users are refused. */
export async function principalForUser(db: Db, userId: string): Promise<Principal> {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new HangarError('UNAUTHENTICATED', 'The user of this token no longer exists');
  return principalOf(user, 'jwt');
}

/** A value generated once and then kept (first writer wins when several processes race). */
export async function getOrCreateSetting(db: Db, key: string, generate = () => randomBytes(32).toString('base64url')): Promise<string> {
  await db.insert(settings).values({ key, value: generate() }).onConflictDoNothing();
  const [row] = await db.select().from(settings).where(eq(settings.key, key));
  return row!.value;
}
