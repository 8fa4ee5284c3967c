import { eq, sql } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import { type ProjectQuotas, QUOTA_KINDS, type QuotaKind, QuotaLimits } from '../domain/quota.js';
import type { Db, Tx } from '../store/database.js';
import { projectQuotas } from '../store/schema.js';
import { getProject } from './projects.js';
import { parse, parseId } from './validate.js';

type Usage = Record<QuotaKind, number>;

const LABELS: Record<QuotaKind, string> = {
  vms: 'VMs',
  cpu_cores: 'vCPUs',
  memory_mb: 'MB of memory',
  disk_gb: 'GB of disk',
  images: 'images',
  running_downloads: 'running image downloads',
  gpus: 'GPUs',
};

async function usage(tx: Db | Tx, projectId: string): Promise<Usage> {
  const [row] = await tx.execute<Record<QuotaKind, string | number>>(sql`
    SELECT
      (SELECT count(*) FROM vms WHERE project_id = ${projectId} AND deleted_at IS NULL) AS vms,
      (SELECT coalesce(sum(cpu_cores), 0) FROM vms WHERE project_id = ${projectId} AND deleted_at IS NULL) AS cpu_cores,
      (SELECT coalesce(sum(memory_mb), 0) FROM vms WHERE project_id = ${projectId} AND deleted_at IS NULL) AS memory_mb,
      (SELECT coalesce(sum(disk_gb), 0) FROM vms WHERE project_id = ${projectId} AND deleted_at IS NULL) AS disk_gb,
      (SELECT count(*) FROM images WHERE project_id = ${projectId} AND status <> 'error') AS images,
      (SELECT count(*) FROM images WHERE project_id = ${projectId} AND status = 'downloading' AND lease_expires_at >= now()) AS running_downloads,
      (SELECT count(*) FROM gpu_devices g JOIN vms v ON v.id = g.vm_id WHERE v.project_id = ${projectId}) AS gpus`);
  return Object.fromEntries(QUOTA_KINDS.map((k) => [k, Number(row![k])])) as Usage;
}

/**
 * Refuses (403 QUOTA_EXCEEDED, naming the limit) what would take the project past a quota,
 * inside the caller's transaction: the project's quota row is locked first, so concurrent
 * requests of one project are counted one after the other. No row: unlimited, no lock.
 * Returns whether the project has a quota row.
 */
export async function enforceQuota(tx: Tx, projectId: string, adds: Partial<Usage>): Promise<boolean> {
  const [limits] = await tx.select().from(projectQuotas).where(eq(projectQuotas.project_id, projectId)).for('update');
  if (!limits) return false;
  const kinds = QUOTA_KINDS.filter((k) => (adds[k] ?? 0) > 0 && limits[k] !== null);
  if (kinds.length === 0) return true;
  const used = await usage(tx, projectId);
  for (const k of kinds) {
    const limit = limits[k]!;
    const want = adds[k]!;
    if (used[k] + want > limit) {
      throw errors.quotaExceeded(`Project quota exceeded: ${used[k]} of ${limit} ${LABELS[k]} in use, and this needs ${want} more`, {
        quota: k,
        limit,
        used: used[k],
        requested: want,
      });
    }
  }
  return true;
}

export async function getQuotas(db: Db, projectId: unknown): Promise<ProjectQuotas> {
  const id = parseId(projectId, 'project id');
  await getProject(db, id);
  const [row] = await db.select().from(projectQuotas).where(eq(projectQuotas.project_id, id));
  return {
    project_id: id,
    limits: Object.fromEntries(QUOTA_KINDS.map((k) => [k, row?.[k] ?? null])) as ProjectQuotas['limits'],
    usage: await usage(db, id),
  };
}

/** Sets every limit: those not given become unlimited. Lowering a limit below what is in use stops growth; it removes nothing. */
export async function setQuotas(db: Db, projectId: unknown, raw: unknown): Promise<ProjectQuotas> {
  const id = parseId(projectId, 'project id');
  const limits = parse(QuotaLimits, raw, 'quotas');
  await getProject(db, id);
  const values = Object.fromEntries(QUOTA_KINDS.map((k) => [k, limits[k] ?? null])) as Record<QuotaKind, number | null>;
  await db
    .insert(projectQuotas)
    .values({ project_id: id, ...values })
    .onConflictDoUpdate({ target: projectQuotas.project_id, set: { ...values, updated_at: new Date() } });
  return getQuotas(db, id);
}
