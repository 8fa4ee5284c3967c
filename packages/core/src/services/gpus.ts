import type { Gpu } from '../domain/gpu.js';
import { ListGpusQuery } from '../domain/list.js';
import type { Db } from '../store/database.js';
import { listGpuRows } from '../store/gpu-rows.js';
import { toGpu } from '../store/mappers.js';
import { resolveHost } from './hosts.js';
import { parse } from './validate.js';

/** The fleet's GPUs (admins): where each is, what it is, whether it is healthy and who holds it. */
export async function listGpus(db: Db, raw: unknown = {}): Promise<Gpu[]> {
  const q = parse(ListGpusQuery, raw ?? {}, 'GPU list query');
  const host_id = q.host_id ? (await resolveHost(db, q.host_id)).id : undefined;
  const rows = await listGpuRows(db, { host_id, model: q.model, free: q.free, health: q.health });
  return rows.map((r) => toGpu(r, r.host_name));
}
