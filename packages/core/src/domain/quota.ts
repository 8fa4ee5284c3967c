import { z } from 'zod';
import { Uuid } from './fields.js';

/** What a project's quotas bound. */
export const QUOTA_KINDS = ['vms', 'cpu_cores', 'memory_mb', 'disk_gb', 'images', 'running_downloads', 'gpus'] as const;
export type QuotaKind = (typeof QUOTA_KINDS)[number];

const Limit = z
  .int()
  .min(0)
  .max(2 ** 31 - 1)
  .nullable();

/** A project's limits: null (or absent) is unlimited, the default. */
export const QuotaLimits = z
  .strictObject({
    /** VMs that are not deleted. */
    vms: Limit.optional(),
    /** vCPUs, memory (MB) and disk (GB) of those VMs, summed. */
    cpu_cores: Limit.optional(),
    memory_mb: Limit.optional(),
    disk_gb: Limit.optional(),
    /** Images kept (downloads in progress and ready ones; failed ones do not count). */
    images: Limit.optional(),
    /** Image downloads running at once (more wait their turn). */
    running_downloads: Limit.optional(),
    /** GPUs held by the project's VMs. */
    gpus: Limit.optional(),
  })
  .meta({ id: 'QuotaLimits' });
export type QuotaLimits = z.input<typeof QuotaLimits>;

const Numbers = z.object(Object.fromEntries(QUOTA_KINDS.map((k) => [k, z.int()])) as Record<QuotaKind, z.ZodInt>);

export const ProjectQuotas = z
  .object({
    project_id: Uuid,
    limits: z.object(Object.fromEntries(QUOTA_KINDS.map((k) => [k, z.int().nullable()])) as Record<QuotaKind, z.ZodNullable<z.ZodInt>>),
    usage: Numbers,
  })
  .meta({ id: 'ProjectQuotas' });
export type ProjectQuotas = z.infer<typeof ProjectQuotas>;

export const SetQuotasRequest = QuotaLimits.extend({ id: Uuid });
