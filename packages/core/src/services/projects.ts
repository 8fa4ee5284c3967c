import { asc, eq } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import { CreateProjectInput, type Project } from '../domain/project.js';
import type { Db } from '../store/database.js';
import { toProject } from '../store/mappers.js';
import { projects } from '../store/schema.js';
import { isUniqueViolation } from './pg-errors.js';
import { parse, parseId } from './validate.js';

export async function createProject(db: Db, input: { name: string }): Promise<Project> {
  const { name } = parse(CreateProjectInput, input, 'project');
  try {
    const [row] = await db.insert(projects).values({ name }).returning();
    return toProject(row!);
  } catch (err) {
    if (isUniqueViolation(err)) throw errors.duplicate(`A project named '${name}' already exists`);
    throw err;
  }
}

/** The project with this name, created if missing (bootstrap). */
export async function ensureProject(db: Db, name: string): Promise<Project> {
  const [row] = await db.insert(projects).values({ name }).onConflictDoNothing().returning();
  if (row) return toProject(row);
  const [existing] = await db.select().from(projects).where(eq(projects.name, name));
  return toProject(existing!);
}

export async function getProject(db: Db, id: string): Promise<Project> {
  const [row] = await db
    .select()
    .from(projects)
    .where(eq(projects.id, parseId(id, 'project id')));
  if (!row) throw errors.notFound('Project', id);
  return toProject(row);
}

export async function listProjects(db: Db): Promise<Project[]> {
  return (await db.select().from(projects).orderBy(asc(projects.name))).map(toProject);
}
