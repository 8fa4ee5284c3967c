import { z } from 'zod';
import { Text, Timestamp, Uuid } from './fields.js';

/** Roles in a project, weakest first: viewer reads, operator also changes VMs, admin does everything there. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export const Username = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9._@-]*$/, { message: 'letters, digits, ".", "_", "@" and "-"' });

/**
 * Text like any other (no NUL, no unpaired surrogate): a password is hashed as UTF-8, in which
 * every unpaired surrogate becomes U+FFFD, so passwords that differ only there would be one.
 */
export const Password = Text.min(8).max(1024);

/**
 * Who signs in: a username, or `project/username` where the name is used in several projects
 * (usernames are unique per project).
 */
export const LoginName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\/)?[a-zA-Z0-9][a-zA-Z0-9._@-]*$/, { message: 'a username, or project/username' });

export const User = z
  .object({
    id: Uuid,
    username: Username,
    project_id: Uuid,
    role: Role,
    /** Manages projects and users everywhere. */
    global_admin: z.boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

export const CreateUserInput = z.strictObject({
  username: Username,
  /** Omit for a user who signs in with API keys only. */
  password: Password.optional(),
  role: Role.default('viewer'),
  /** Defaults to the caller's project; another project needs a global admin. */
  project_id: Uuid.optional(),
  global_admin: z.boolean().default(false),
});
export type CreateUserInput = z.input<typeof CreateUserInput>;

export const ApiKey = z
  .object({
    id: Uuid,
    name: z.string(),
    /** The key's first characters, to recognise it; the key itself is never stored. */
    prefix: z.string(),
    user_id: Uuid,
    project_id: Uuid,
    role: Role,
    created_at: Timestamp,
    last_used_at: Timestamp.nullable(),
    expires_at: Timestamp.nullable(),
    revoked_at: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKey>;

export const CreateApiKeyInput = z.strictObject({
  name: Text.min(1).max(100),
  /** At most the owner's role (and the caller's); defaults to the owner's role. */
  role: Role.optional(),
  /** Another user's key: admins only, in their project. */
  user_id: Uuid.optional(),
  expires_in_days: z.int().min(1).max(3650).optional(),
});
export type CreateApiKeyInput = z.input<typeof CreateApiKeyInput>;

export const CreatedApiKey = z
  .object({
    api_key: ApiKey,
    /** The secret, shown this once. */
    key: z.string(),
  })
  .meta({ id: 'CreatedApiKey' });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

/** Who is calling, once their token checked out. */
export const Principal = z
  .object({
    user_id: Uuid,
    username: z.string(),
    project_id: Uuid,
    role: Role,
    global_admin: z.boolean(),
    /** How they proved it. */
    via: z.enum(['api_key', 'password', 'jwt']),
    api_key_id: Uuid.nullable(),
  })
  .meta({ id: 'Principal' });
export type Principal = z.infer<typeof Principal>;
