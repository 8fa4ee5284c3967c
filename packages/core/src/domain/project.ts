import { z } from 'zod';
import { Timestamp, Uuid } from './fields.js';

export const ProjectName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, { message: 'must be lowercase letters, digits and hyphens' });

export const Project = z
  .object({
    id: Uuid,
    name: ProjectName,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Project' });
export type Project = z.infer<typeof Project>;

export const CreateProjectInput = z.strictObject({ name: ProjectName });

/** Whose VMs a call may see: every service call is scoped to one project. */
export interface Scope {
  project_id: string;
  /** Who acts, recorded in events (a user name or key id). */
  actor?: string;
}
