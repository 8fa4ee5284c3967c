import { asc } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import type { Tx } from '../store/database.js';
import { freeGpuCounts } from '../store/gpu-rows.js';
import { type HostRow, hosts } from '../store/schema.js';
import { HOST_HEARTBEAT_TIMEOUT_S, type PlacementRequest, type Resources } from './reserve.js';

/** Why nothing could be placed, host by host: offline, cordoned, without the labels, or short of which resource. */
export async function explainNoPlacement(tx: Tx, r: Resources, p: PlacementRequest): Promise<never> {
  const all = await tx.select().from(hosts).orderBy(asc(hosts.name));
  const g = p.gpus && p.gpus.count > 0 ? p.gpus : null;
  const freeGpus = g ? await freeGpuCounts(tx, g) : new Map<string, number>();
  const fresh = (h: HostRow) =>
    h.status === 'online' && !!h.last_seen_at && Date.now() - h.last_seen_at.getTime() < HOST_HEARTBEAT_TIMEOUT_S * 1000;
  const shortOf = (h: HostRow) => {
    const missing: string[] = [];
    const cpus = Math.floor(h.cpus * h.cpu_allocation_ratio) - h.allocated_cpus;
    if (cpus < r.cpus) missing.push(`vCPUs (${Math.max(0, cpus)} free)`);
    if (h.memory_mb - h.allocated_memory_mb < r.memory_mb)
      missing.push(`memory (${Math.max(0, h.memory_mb - h.allocated_memory_mb)} MB free)`);
    if (h.disk_gb - h.allocated_disk_gb < r.disk_gb) missing.push(`disk (${Math.max(0, h.disk_gb - h.allocated_disk_gb)} GB free)`);
    if (g && (freeGpus.get(h.id) ?? 0) < g.count) missing.push(`GPUs (${freeGpus.get(h.id) ?? 0} free${gpuKind ? ` ${gpuKind}` : ''})`);
    return missing;
  };
  const gpuKind = g ? [g.vendor, g.model].filter(Boolean).join(' ') : '';
  const wanted = g
    ? `${r.cpus} vCPUs, ${r.memory_mb} MB of memory, ${r.disk_gb} GB of disk and ${g.count} ${gpuKind ? `${gpuKind} ` : ''}GPU${g.count > 1 ? 's' : ''}`
    : `${r.cpus} vCPUs, ${r.memory_mb} MB of memory and ${r.disk_gb} GB of disk`;
  if (p.host_id) {
    const h = all.find((x) => x.id === p.host_id);
    if (!h) throw errors.validation(`Host ${p.host_id} does not exist`, [{ path: 'host_id', message: 'unknown host' }]);
    if (h.status !== 'online') throw errors.hostUnavailable(`Host ${h.name} is ${h.status}${because(h)}`);
    if (!fresh(h)) throw errors.hostUnavailable(`Host ${h.name} has no running worker`);
    if (p.new_vm && (h.cordoned || h.draining))
      throw errors.hostUnavailable(`Host ${h.name} is ${h.draining ? 'draining' : 'cordoned'}: it takes no new VMs`);
    throw errors.insufficientCapacity(`Host ${h.name} has no room for ${wanted}: short of ${shortOf(h).join(', ')}`, {
      missing: shortOf(h),
    });
  }
  const live = all.filter(fresh);
  if (live.length === 0) {
    const why = all.filter((h) => h.status_reason).map((h) => `${h.name}: ${h.status_reason}`);
    throw errors.hostUnavailable(`No hypervisor host is online${why.length ? ` (${why.join('; ')})` : ''}`);
  }
  const reasons: string[] = [];
  const missing = new Set<string>();
  for (const h of live) {
    if (p.new_vm && (h.cordoned || h.draining)) reasons.push(`${h.name} is ${h.draining ? 'draining' : 'cordoned'}`);
    else if (p.exclude?.includes(h.id)) reasons.push(`${h.name}'s last matching GPUs were just taken by another create`);
    else if (p.host_labels && Object.entries(p.host_labels).some(([k, v]) => h.labels[k] !== v)) reasons.push(`${h.name} lacks the labels`);
    else {
      const short = shortOf(h);
      for (const m of short) missing.add(m.split(' ')[0]!);
      reasons.push(`${h.name} is short of ${short.join(', ')}`);
    }
  }
  const labels = p.host_labels && Object.keys(p.host_labels).length ? ` with labels ${JSON.stringify(p.host_labels)}` : '';
  throw errors.insufficientCapacity(`No host${labels} has room for ${wanted} (${reasons.join('; ')})`, {
    missing: [...missing],
    ...(g ? { gpus: { count: g.count, model: g.model ?? null, vendor: g.vendor ?? null } } : {}),
  });
}

const because = (h: { status_reason: string | null }) => (h.status_reason ? `: ${h.status_reason}` : '');
