import { errors } from '@hangar/core';

export interface LimiterOptions {
  /** Attempts per username from one address before each further failure doubles the wait. */
  freeAttempts?: number;
  /** Attempts from one address (any usernames) before its waits begin: slows spraying. */
  freePerAddress?: number;
  /** The first wait; each further failure doubles it. */
  baseDelayMs?: number;
  /** The longest wait. */
  maxDelayMs?: number;
  /** How many (username, address) and address records are kept at most (oldest dropped first). */
  maxEntries?: number;
}

interface Record {
  failures: number;
  /** No attempt before this time. */
  next: number;
  last: number;
}

/**
 * Slows password guessing without locking anyone out: attempts are counted per username and
 * client address, and per address, before the password is checked (so parallel or batched
 * attempts count too); past a few free ones, each failure doubles the wait before the next
 * attempt from that address. Another address, the account's owner, is not slowed by a
 * stranger's guesses. A success clears that username's record for that address. In memory:
 * per API process.
 */
export class LoginLimiter {
  private readonly records = new Map<string, Record>();
  private readonly free: number;
  private readonly freePerAddress: number;
  private readonly base: number;
  private readonly max: number;
  private readonly maxEntries: number;

  constructor(opts: LimiterOptions = {}) {
    this.free = opts.freeAttempts ?? 5;
    this.freePerAddress = opts.freePerAddress ?? 30;
    this.base = opts.baseDelayMs ?? 1_000;
    this.max = opts.maxDelayMs ?? 15 * 60_000;
    this.maxEntries = opts.maxEntries ?? 100_000;
  }

  /**
   * Counts an attempt, or refuses it (429 with `retry_after_s`) while a wait runs. Call before
   * checking the password; on success call `succeed`.
   */
  begin(username: string, address: string): void {
    const now = Date.now();
    const keys: [string, number][] = [
      [`u:${username.toLowerCase()}\u0000${address}`, this.free],
      [`a:${address}`, this.freePerAddress],
    ];
    for (const [key] of keys) {
      const r = this.records.get(key);
      if (r && r.next > now) {
        const retryAfter = Math.ceil((r.next - now) / 1000);
        throw errors.rateLimited(`Too many failed logins; try again in ${retryAfter} s`, retryAfter);
      }
    }
    for (const [key, free] of keys) {
      const r = this.records.get(key) ?? { failures: 0, next: 0, last: now };
      r.failures++;
      r.last = now;
      r.next = r.failures >= free ? now + Math.min(this.max, this.base * 2 ** (r.failures - free)) : 0;
      this.records.delete(key); // re-inserted last: the map stays ordered oldest first
      this.records.set(key, r);
    }
    this.prune(now);
  }

  /** The attempt was right: forget this username's failures from this address, and uncount it for the address. */
  succeed(username: string, address: string): void {
    this.records.delete(`u:${username.toLowerCase()}\u0000${address}`);
    const r = this.records.get(`a:${address}`);
    if (!r) return;
    r.failures = Math.max(0, r.failures - 1);
    if (r.failures < this.freePerAddress) r.next = 0;
  }

  private prune(now: number): void {
    for (const [key, r] of this.records) {
      const stale = now - r.last > this.max * 2;
      if (!stale && this.records.size <= this.maxEntries) break;
      this.records.delete(key);
    }
  }
}
