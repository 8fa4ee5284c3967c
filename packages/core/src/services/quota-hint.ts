/**
 * Projects seen lately with a quota row, so that their creates go straight to the transaction
 * that checks quotas (the one-statement create would find the row and write nothing: a round
 * trip for nothing). Only a hint, kept per process for a minute: a project whose quota row came
 * or went since is still checked right, only by the longer way.
 */
export class RecentQuotaRows {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttl_ms = 60_000,
    /** Past this many projects the hint starts over (a bound on its memory). */
    private readonly max = 10_000,
  ) {}

  has(project_id: string): boolean {
    const until = this.until.get(project_id);
    return until !== undefined && until > Date.now();
  }

  /** What a quota check found: whether the project has a quota row. */
  saw(project_id: string, hasRow: boolean): void {
    if (!hasRow) {
      this.until.delete(project_id);
      return;
    }
    if (this.until.size >= this.max && !this.until.has(project_id)) this.until.clear();
    this.until.set(project_id, Date.now() + this.ttl_ms);
  }
}
