import type { SimDomain } from './hypervisor.js';

/** What one domain takes of its host: its disks always, its memory while it runs (or is paused). */
interface Share {
  disk_gb: number;
  memory_mb: number;
}

const shareOf = (d: SimDomain): Share => ({
  disk_gb: d.spec.disk_gb,
  memory_mb: d.state === 'running' || d.state === 'paused' ? d.spec.memory_mb : 0,
});

/**
 * The simulated host's domains by id, with what they take of it kept as running sums: a create
 * or start checks its host's room without reading every domain (a host may have thousands, and
 * every start read them all). A domain changed in place (its state, its spec) is `refresh`ed;
 * one set or deleted, by the hypervisor or a test making a domain vanish, is counted by the map.
 */
export class DomainTable extends Map<string, SimDomain> {
  private readonly shares = new Map<string, Share>();
  private used: Share = { disk_gb: 0, memory_mb: 0 };

  /** Disk (GB) every domain has, and memory (MB) of those running or paused. */
  get usage(): Readonly<Share> {
    return this.used;
  }

  override set(id: string, d: SimDomain): this {
    super.set(id, d);
    // Map's constructor calls set before the fields above exist (never here: built empty).
    if (this.shares) this.count(id, shareOf(d));
    return this;
  }

  override delete(id: string): boolean {
    this.count(id, { disk_gb: 0, memory_mb: 0 });
    this.shares.delete(id);
    return super.delete(id);
  }

  override clear(): void {
    super.clear();
    this.shares.clear();
    this.used = { disk_gb: 0, memory_mb: 0 };
  }

  /** Counts a domain again after its state or spec changed in place. */
  refresh(d: SimDomain): void {
    if (this.get(d.id) === d) this.count(d.id, shareOf(d));
  }

  private count(id: string, now: Share): void {
    const was = this.shares.get(id) ?? { disk_gb: 0, memory_mb: 0 };
    this.used = { disk_gb: this.used.disk_gb + now.disk_gb - was.disk_gb, memory_mb: this.used.memory_mb + now.memory_mb - was.memory_mb };
    this.shares.set(id, now);
  }
}
