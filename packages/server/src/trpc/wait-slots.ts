import { errors, type Principal } from '@hangar/core';

/**
 * Long-polls and watch streams held at once per principal (an API key, or a user signed in by token). Each held
 * request costs the server a socket and a listener; without a bound, one viewer's 2,000
 * day-long waits are a denial of service. Beyond the bound: 429 until one ends.
 */
export class WaitSlots {
  private readonly held = new Map<string, number>();

  /** `what`: what the slots hold, as the 429 names it. */
  constructor(
    readonly perPrincipal = 64,
    private readonly what = 'waits',
  ) {}

  hold<T>(principal: Principal, wait: () => Promise<T>): Promise<T> {
    return this.holdFor(principal.api_key_id ?? `user:${principal.user_id}`, wait);
  }

  /** The same bound, for a holder named by `key` (an agent's host). */
  async holdFor<T>(key: string, wait: () => Promise<T>): Promise<T> {
    const release = this.acquireFor(key);
    try {
      return await wait();
    } finally {
      release();
    }
  }

  /** A slot held until the returned function is called: for a stream, which outlives any one promise. */
  acquire(principal: Principal): () => void {
    return this.acquireFor(principal.api_key_id ?? `user:${principal.user_id}`);
  }

  private acquireFor(key: string): () => void {
    const n = this.held.get(key) ?? 0;
    if (n >= this.perPrincipal) {
      throw errors.rateLimited(`Too many ${this.what} held at once (${this.perPrincipal} per key, user or host); let one end first`, 1);
    }
    this.held.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }
}
