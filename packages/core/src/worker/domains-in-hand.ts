/**
 * The domains a worker's operations are acting on at their hosts, by host: from an operation's
 * claim (or, for a create, from the moment its domain is defined) until its host's part is done
 * or aborted. What a hypervisor reports about such a domain meanwhile is that operation's doing,
 * and the reconciler leaves it alone without asking the database (where the VM's running
 * operation would tell it the same).
 *
 * One holder per domain: a VM has one open operation at a time, so an operation claimed for a
 * domain another one here still holds has superseded it (a force-stop or a forced delete
 * cancelled it, or its lease ran out). The superseded one no longer counts: what the hypervisor
 * says once the newer one is done goes to the reconciler's check, even while the older one's
 * call has yet to return.
 */
export class DomainsInHand {
  /** The current holder (a token of its own) of each held domain, by host and reference. */
  private readonly held = new Map<string, Map<string, object>>();

  /** Holds a domain, superseding whoever held it; returns the release (of this hold only). */
  hold(hostId: string, ref: string): () => void {
    let ofHost = this.held.get(hostId);
    if (!ofHost) {
      ofHost = new Map();
      this.held.set(hostId, ofHost);
    }
    const token = {};
    ofHost.set(ref, token);
    return () => {
      const now = this.held.get(hostId);
      if (now?.get(ref) !== token) return;
      now.delete(ref);
      if (now.size === 0) this.held.delete(hostId);
    };
  }

  has(hostId: string, ref: string): boolean {
    return this.held.get(hostId)?.has(ref) ?? false;
  }

  /** Domains held, over all hosts. */
  get size(): number {
    let n = 0;
    for (const ofHost of this.held.values()) n += ofHost.size;
    return n;
  }
}
