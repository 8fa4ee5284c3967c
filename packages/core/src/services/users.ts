import { asc, eq } from 'drizzle-orm';
import { CreateUserInput, type Principal, roleAtLeast, type User } from '../domain/auth.js';
import { errors } from '../domain/errors.js';
import type { Db } from '../store/database.js';
import { toUser } from '../store/mappers.js';
import { projects, users } from '../store/schema.js';
import { hashPassword } from './passwords.js';
import { isUniqueViolation } from './pg-errors.js';
import { parse } from './validate.js';

export function forbidden(message: string) {
  return errors.forbidden(message);
}

/** Project admins manage their project's users; global admins manage everyone. */
export async function createUser(db: Db, actor: Principal, raw: CreateUserInput): Promise<User> {
  const input = parse(CreateUserInput, raw, 'user');
  const projectId = input.project_id ?? actor.project_id;
  if (!actor.global_admin) {
    if (!roleAtLeast(actor.role, 'admin')) throw forbidden('Only admins can create users');
    if (projectId !== actor.project_id) throw forbidden('Only a global admin can create users in another project');
    if (input.global_admin) throw forbidden('Only a global admin can create global admins');
  }
  const [project] = await db.select({ id: projects.id }).from(projects).where(eq(projects.id, projectId));
  if (!project) throw errors.notFound('Project', projectId);
  try {
    const [row] = await db
      .insert(users)
      .values({
        username: input.username,
        password_hash: input.password ? await hashPassword(input.password) : null,
        project_id: projectId,
        role: input.role,
        global_admin: input.global_admin,
      })
      .returning();
    return toUser(row!);
  } catch (err) {
    // Names are unique per project: this says nothing about other projects' users.
    if (isUniqueViolation(err)) throw errors.duplicate(`A user named '${input.username}' already exists in this project`);
    throw err;
  }
}

export async function listUsers(db: Db, actor: Principal): Promise<User[]> {
  if (!actor.global_admin && !roleAtLeast(actor.role, 'admin')) throw forbidden('Only admins can list users');
  const q = db.select().from(users);
  const rows = actor.global_admin
    ? await q.orderBy(asc(users.username))
    : await q.where(eq(users.project_id, actor.project_id)).orderBy(asc(users.username));
  return rows.map(toUser);
}
