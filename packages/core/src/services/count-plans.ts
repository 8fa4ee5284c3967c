/**
 * Count plans by the filter they were made for (its SQL text and values), kept a few seconds.
 * Planning a list's count is a round trip of its own (an EXPLAIN); a client paging through one
 * listing, or many clients polling the same one, would pay it on every page for an answer that
 * changes only as the table's make-up does. A plan is only a way to count and an estimate shown
 * as one (`total_is_estimate`), so a few seconds old is as good as new.
 */
export class CountPlans<P> {
  private readonly plans = new Map<string, { plan: P; until: number }>();

  constructor(
    private readonly ttl_ms = 10_000,
    /** Past this many filters the oldest are dropped (a bound on its memory). */
    private readonly max = 1_000,
  ) {}

  /** The plan kept for `key`, or the one `make` gives (then kept). */
  async get(key: string, make: () => Promise<P>): Promise<P> {
    const kept = this.plans.get(key);
    if (kept && kept.until > Date.now()) return kept.plan;
    const plan = await make();
    this.plans.delete(key);
    if (this.plans.size >= this.max) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(key, { plan, until: Date.now() + this.ttl_ms });
    return plan;
  }
}
