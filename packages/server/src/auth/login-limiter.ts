import { HangarError } from '@hangar/core';

export interface LimiterOptions {
  /** Failed logins allowed per username within the window. */
  perUser?: number;
  /** Failed logins allowed per client address within the window. */
  perAddress?: number;
  windowMs?: number;
}

/**
 * Slows password guessing: too many failures for one username, or from one address, within
 * the window answer 429 until the oldest failure ages out. In memory: per API process.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly perUser: number;
  private readonly perAddress: number;
  private readonly windowMs: number;

  constructor(opts: LimiterOptions = {}) {
    this.perUser = opts.perUser ?? 5;
    this.perAddress = opts.perAddress ?? 20;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
  }

  check(username: string, address: string): void {
    const now = Date.now();
    for (const [key, limit] of [
      [`u:${username.toLowerCase()}`, this.perUser],
      [`a:${address}`, this.perAddress],
    ] as const) {
      const recent = this.recent(key, now);
      if (recent.length >= limit) {
        const retryAfter = Math.ceil((recent[0]! + this.windowMs - now) / 1000);
        throw new HangarError('RATE_LIMITED', `Too many failed logins; try again in ${retryAfter} s`, {
          retry_after_s: retryAfter,
          retryable: true,
        });
      }
    }
  }

  fail(username: string, address: string): void {
    const now = Date.now();
    for (const key of [`u:${username.toLowerCase()}`, `a:${address}`]) {
      this.failures.set(key, [...this.recent(key, now), now]);
    }
  }

  succeed(username: string): void {
    this.failures.delete(`u:${username.toLowerCase()}`);
  }

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length === 0) this.failures.delete(key);
    return list;
  }
}
