import type { Histogram } from 'prom-client';

type Child = ReturnType<Histogram<'procedure' | 'status'>['labels']>;

/**
 * HTTP requests by procedure and status, recorded on every request: so the cost is two Map
 * lookups and one histogram observation. prom-client's `labels()` builds a new child (and
 * closures) on each call; the child of each (procedure, status) is made once and kept. The
 * procedures are the router's and the routes' names, never a URL, so the map stays small.
 */
export class RequestMetrics {
  private readonly children = new Map<string, Map<number, Child>>();

  constructor(private readonly histogram: Histogram<'procedure' | 'status'>) {}

  observe(procedure: string, status: number, seconds: number): void {
    let byStatus = this.children.get(procedure);
    if (!byStatus) {
      byStatus = new Map();
      this.children.set(procedure, byStatus);
    }
    let child = byStatus.get(status);
    if (!child) {
      child = this.histogram.labels(procedure, String(status));
      byStatus.set(status, child);
    }
    child.observe(seconds);
  }
}
