import { and, eq, isNotNull } from 'drizzle-orm';
import type { Principal, Role } from '../domain/auth.js';
import { errors } from '../domain/errors.js';
import type { Db } from '../store/database.js';
import { projects, type UserRow, users } from '../store/schema.js';
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

/** Users with a name may sign in, at most; beyond, `project/username` says which one. */
const MAX_NAMESAKES = 8;

/**
 * A username (or `project/username`) and password to a principal. Usernames are unique per
 * project, so a bare name may belong to several users: the password decides which. The same
 * answer, and at least the same work, for an unknown user.
 */
export async function authenticatePassword(db: Db, login: string, password: string): Promise<Principal> {
  const slash = login.indexOf('/');
  const username = slash < 0 ? login : login.slice(slash + 1);
  const projectName = slash < 0 ? null : login.slice(0, slash);
  const candidates = await db
    .select({ user: users })
    .from(users)
    .innerJoin(projects, eq(projects.id, users.project_id))
    .where(and(eq(users.username, username), isNotNull(users.password_hash), projectName ? eq(projects.name, projectName) : undefined))
    .limit(MAX_NAMESAKES);
  for (const { user } of candidates) {
    if (await verifyPassword(password, user.password_hash!)) return principalOf(user, 'password');
  }
  if (candidates.length === 0) await verifyPassword(password, await DECOY_HASH);
  throw errors.unauthenticated('Incorrect username or password');
}

/** The principal for a user named in a token we issued; gone users are refused. */
export async function principalForUser(db: Db, userId: string): Promise<Principal> {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) throw errors.unauthenticated('The user of this token no longer exists');
  return principalOf(user, 'jwt');
}
