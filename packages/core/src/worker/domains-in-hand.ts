/**
 * The domains a worker's operations are acting on, by host: from its claim (or, for a create,
 * from the moment its domain is defined) until its ending is written. What a hypervisor reports
 * about such a domain meanwhile is that operation's doing, and the reconciler leaves it alone
 * without asking the database (where the VM's running operation would tell it the same).
 */
export class DomainsInHand {
  /** Operations in hand per host and domain (two can overlap: a takeover, a force-stop beside a start). */
  private readonly held = new Map<string, number>();

  /** Holds a domain; returns its release (idempotent). */
  hold(hostId: string, ref: string): () => void {
    const key = keyOf(hostId, ref);
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.held.get(key) ?? 1) - 1;
      if (n > 0) this.held.set(key, n);
      else this.held.delete(key);
    };
  }

  has(hostId: string, ref: string): boolean {
    return this.held.has(keyOf(hostId, ref));
  }

  get size(): number {
    return this.held.size;
  }
}

// Host ids are UUIDs (one length, no NUL): a key splits one way only, whatever the reference holds.
const keyOf = (hostId: string, ref: string) => `${hostId}\u0000${ref}`;
