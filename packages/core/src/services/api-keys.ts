import { randomBytes } from 'node:crypto';
import { and, desc, eq, or, sql } from 'drizzle-orm';
import { type ApiKey, CreateApiKeyInput, type CreatedApiKey, type Principal, Role, roleAtLeast } from '../domain/auth.js';
import { errors } from '../domain/errors.js';
import type { Db } from '../store/database.js';
import { toApiKey } from '../store/mappers.js';
import { apiKeys, projects, users } from '../store/schema.js';
import { cachedPrincipal, forgetApiKey, rememberPrincipal } from './api-key-cache.js';
import { sha256Hex } from './sha256.js';
import { forbidden } from './users.js';
import { parse, parseId } from './validate.js';

export const API_KEY_PREFIX = 'hgr_';

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Stores a key (given, or generated) for a user; the plain key is returned only here. */
export async function insertApiKey(
  db: Db,
  owner: { id: string; project_id: string },
  opts: { name: string; role: Role; key?: string; expires_at?: Date | null },
): Promise<CreatedApiKey> {
  const key = opts.key ?? generateApiKey();
  const [row] = await db
    .insert(apiKeys)
    .values({
      user_id: owner.id,
      project_id: owner.project_id,
      name: opts.name,
      prefix: key.slice(0, 12),
      key_hash: hashApiKey(key),
      role: opts.role,
      expires_at: opts.expires_at ?? null,
    })
    .returning();
  return { api_key: toApiKey(row!), key };
}

export async function createApiKey(db: Db, actor: Principal, raw: CreateApiKeyInput): Promise<CreatedApiKey> {
  const input = parse(CreateApiKeyInput, raw, 'API key');
  const ownerId = input.user_id ?? actor.user_id;
  const [owner] = await db.select().from(users).where(eq(users.id, ownerId));
  const sameProject = owner?.project_id === actor.project_id;
  if (!owner || (!sameProject && !actor.global_admin)) throw errors.notFound('User', ownerId);
  if (ownerId !== actor.user_id && !actor.global_admin && !roleAtLeast(actor.role, 'admin')) {
    throw forbidden('Only admins can create keys for other users');
  }
  // An admin key of a global admin user is a global admin: minting one is global power.
  if (!mayManageKeysOf(actor, owner)) throw forbidden('Only a global admin can create keys for a global admin');
  const ownerRole = owner.role as Role;
  const role = input.role ?? ownerRole;
  if (!roleAtLeast(ownerRole, role)) throw forbidden(`A key cannot have more than its owner's role (${ownerRole})`);
  if (!actor.global_admin && !roleAtLeast(actor.role, role)) throw forbidden(`You cannot grant more than your own role (${actor.role})`);
  const expires = input.expires_in_days ? new Date(Date.now() + input.expires_in_days * 86_400_000) : null;
  return insertApiKey(db, owner, { name: input.name, role, expires_at: expires });
}

/**
 * Whether the actor may create, see or revoke keys of this user: its own always; a global
 * admin's (whose admin keys are global admins) only as a global admin. Project roles are
 * checked by the callers.
 */
function mayManageKeysOf(actor: Principal, owner: { id: string; global_admin: boolean }): boolean {
  return owner.id === actor.user_id || !owner.global_admin || actor.global_admin;
}

/** Your own keys; an admin sees every key in the project (a global admin's only when it is one too). */
export async function listApiKeys(db: Db, actor: Principal): Promise<ApiKey[]> {
  const where = roleAtLeast(actor.role, 'admin')
    ? and(
        eq(apiKeys.project_id, actor.project_id),
        actor.global_admin ? undefined : or(eq(apiKeys.user_id, actor.user_id), eq(users.global_admin, false)),
      )
    : eq(apiKeys.user_id, actor.user_id);
  const rows = await db
    .select({ key: apiKeys })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.user_id))
    .where(where)
    .orderBy(desc(apiKeys.created_at));
  return rows.map((r) => toApiKey(r.key));
}

export async function revokeApiKey(db: Db, actor: Principal, id: string): Promise<ApiKey> {
  const keyId = parseId(id, 'API key id');
  const [found] = await db
    .select({ key: apiKeys, owner: { id: users.id, global_admin: users.global_admin } })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.user_id))
    .where(eq(apiKeys.id, keyId));
  // A key the actor may not see (listApiKeys) is not there for it: 404.
  const visible =
    found &&
    (found.key.user_id === actor.user_id || (found.key.project_id === actor.project_id && roleAtLeast(actor.role, 'admin'))) &&
    mayManageKeysOf(actor, found.owner);
  if (!visible) throw errors.notFound('API key', keyId);
  // As no key grants more than its own role, none takes away more: a viewer key handed to a
  // dashboard cannot revoke its owner's admin keys.
  const role = found.key.role as Role;
  if (!actor.global_admin && !roleAtLeast(actor.role, role)) {
    throw forbidden(`You cannot revoke a key with more than your own role (${actor.role}); this one has ${role}`);
  }
  const [revoked] = await db
    .update(apiKeys)
    .set({ revoked_at: sql`COALESCE(${apiKeys.revoked_at}, now())` })
    .where(eq(apiKeys.id, keyId))
    .returning();
  forgetApiKey(db, keyId);
  return toApiKey(revoked!);
}

const LAST_USED_GRANULARITY_MS = 60_000;

/** The principal behind an API key, or UNAUTHENTICATED (unknown, revoked or expired). */
export async function principalFromApiKey(db: Db, key: string): Promise<Principal> {
  const invalid = () => errors.unauthenticated('Invalid, revoked or expired API key');
  if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) throw invalid();
  const hash = hashApiKey(key);
  const hit = cachedPrincipal(db, hash);
  if (hit) return hit;
  const [found] = await db
    .select({ key: apiKeys, user: users })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.user_id))
    .where(eq(apiKeys.key_hash, hash));
  if (!found || found.key.revoked_at || (found.key.expires_at && found.key.expires_at.getTime() <= Date.now())) throw invalid();
  const last = found.key.last_used_at?.getTime() ?? 0;
  if (Date.now() - last > LAST_USED_GRANULARITY_MS) {
    await db
      .update(apiKeys)
      .set({ last_used_at: new Date() })
      .where(and(eq(apiKeys.id, found.key.id)));
  }
  const principal: Principal = {
    user_id: found.user.id,
    username: found.user.username,
    project_id: found.key.project_id,
    role: found.key.role as Role,
    global_admin: found.user.global_admin && found.key.role === 'admin',
    via: 'api_key',
    api_key_id: found.key.id,
  };
  rememberPrincipal(db, hash, principal, found.key.expires_at);
  return principal;
}

/**
 * A key for a user named on the host's command line (`hangar admin create-key`), with the
 * user's role unless a weaker one is asked for. The username may be in several projects:
 * then `project` must say which.
 */
export async function createKeyForUser(
  db: Db,
  opts: { username: string; project?: string; name: string; role?: string },
): Promise<CreatedApiKey> {
  const found = await db
    .select({ user: users, project: projects.name })
    .from(users)
    .innerJoin(projects, eq(projects.id, users.project_id))
    .where(and(eq(users.username, opts.username), opts.project ? eq(projects.name, opts.project) : undefined));
  if (found.length === 0) {
    throw errors.validation(`No user named '${opts.username}'${opts.project ? ` in project '${opts.project}'` : ''}`);
  }
  if (found.length > 1) {
    throw errors.validation(
      `Users named '${opts.username}' are in projects ${found.map((f) => f.project).join(', ')}: say which with --project`,
    );
  }
  const { user } = found[0]!;
  const role = parse(Role, opts.role ?? user.role, 'role');
  if (!roleAtLeast(user.role as Role, role)) throw forbidden(`A key cannot have more than its owner's role (${user.role})`);
  return insertApiKey(db, user, { name: opts.name, role });
}
