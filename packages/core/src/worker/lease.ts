export interface LeaseKeeping {
  /** How long one renewal holds the lease; it is renewed every third of that. */
  lease_ms: number;
  /** Renews the lease; false when it is no longer held. */
  renew: () => Promise<boolean>;
  /** Called once, on the first renewal that finds the lease gone: stop the work, write nothing. */
  onLost: () => void;
  /** A renewal that failed (a database blip): the lease is kept trying; it is lost only when the database says so. */
  onError: (err: unknown) => void;
  /** Shortest renewal interval (tests run with leases of a few hundred ms). */
  min_interval_ms?: number;
}

/**
 * Keeps a lease while its work runs: the worker's operations, image downloads and exports all
 * hold theirs this way, so each stops the moment another process has taken its work over.
 * Returns the function that stops renewing.
 */
export function keepLease(k: LeaseKeeping): () => void {
  let lost = false;
  const timer = setInterval(
    () => {
      k.renew().then(
        (held) => {
          if (held || lost) return;
          lost = true;
          clearInterval(timer);
          k.onLost();
        },
        (err: unknown) => k.onError(err),
      );
    },
    Math.max(k.min_interval_ms ?? 100, Math.floor(k.lease_ms / 3)),
  );
  return () => clearInterval(timer);
}
