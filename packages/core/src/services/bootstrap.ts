import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { User } from '../domain/auth.js';
import { errors } from '../domain/errors.js';
import type { Project } from '../domain/project.js';
import type { Db } from '../store/database.js';
import { toUser } from '../store/mappers.js';
import { apiKeys, users } from '../store/schema.js';
import { API_KEY_PREFIX, hashApiKey, insertApiKey } from './api-keys.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { ensureProject } from './projects.js';

export interface BootstrapOptions {
  /** The admin's API key; generated when absent and no key exists yet. */
  api_key?: string;
  /** The admin's password; generated when absent and none is set yet. */
  password?: string;
}

export interface BootstrapResult {
  project: Project;
  admin: User;
  /** Set only when this call created the key (to be shown once). */
  api_key: string | null;
  /** Set only when this call generated the password. */
  generated_password: string | null;
}

/** First start: project `default` and global admin `admin`, with a key and a password. Later starts change nothing unless asked. */
export async function bootstrap(db: Db, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  if (opts.api_key !== undefined && (!opts.api_key.startsWith(API_KEY_PREFIX) || opts.api_key.length < 24)) {
    throw errors.validation(`HANGAR_BOOTSTRAP_API_KEY must start with ${API_KEY_PREFIX} and be at least 24 characters`);
  }
  const project = await ensureProject(db, 'default');
  await db.insert(users).values({ username: 'admin', project_id: project.id, role: 'admin', global_admin: true }).onConflictDoNothing();
  let [admin] = await db
    .select()
    .from(users)
    .where(and(eq(users.username, 'admin'), eq(users.project_id, project.id)));

  let generatedPassword: string | null = null;
  if (opts.password !== undefined) {
    if (!admin!.password_hash || !(await verifyPassword(opts.password, admin!.password_hash))) {
      [admin] = await db
        .update(users)
        .set({ password_hash: await hashPassword(opts.password), updated_at: new Date() })
        .where(eq(users.id, admin!.id))
        .returning();
    }
  } else if (!admin!.password_hash) {
    generatedPassword = randomBytes(12).toString('base64url');
    [admin] = await db
      .update(users)
      .set({ password_hash: await hashPassword(generatedPassword) })
      .where(eq(users.id, admin!.id))
      .returning();
  }

  let key: string | null = null;
  if (opts.api_key !== undefined) {
    const [existing] = await db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(eq(apiKeys.key_hash, hashApiKey(opts.api_key)));
    if (!existing) key = (await insertApiKey(db, admin!, { name: 'bootstrap', role: 'admin', key: opts.api_key })).key;
  } else {
    const [any] = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.user_id, admin!.id)).limit(1);
    if (!any) key = (await insertApiKey(db, admin!, { name: 'bootstrap', role: 'admin' })).key;
  }
  return { project, admin: toUser(admin!), api_key: key, generated_password: generatedPassword };
}
