import type postgres from 'postgres';

/** A NOTIFY to send: its channel and payload. */
export interface Notice {
  channel: string;
  payload: string;
}

/**
 * Sends NOTIFYs for transactions that have committed, many in one statement.
 *
 * Why not NOTIFY inside the transaction: PostgreSQL takes one lock for the whole database's
 * notification queue when a transaction that notified commits, and holds it until that commit is
 * on disk. Every writing transaction notified (a VM changed, work was queued, events were
 * written), so they all committed one at a time, each waiting for the previous one's WAL flush:
 * no two commits could share a flush. Sent afterwards, the data commits run side by side, and
 * one notifying statement carries everything committed meanwhile.
 *
 * What a listener may miss: a process that dies between a commit and this statement loses that
 * commit's notices. Every listener has a fallback (workers poll, waiters re-check, the event
 * feed ticks each second), so a notice is a wake-up that comes early, never the only way a
 * change is seen.
 */
export class NoticePublisher {
  private pending: Notice[] = [];
  private sending: Promise<void> | null = null;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  publish(notices: readonly Notice[]): void {
    if (notices.length === 0) return;
    this.pending.push(...notices);
    this.sending ??= this.drain();
  }

  /** Resolves once everything published so far has been sent (or failed). */
  async flushed(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private async drain(): Promise<void> {
    try {
      // What the same tick publishes (a transaction's notices, those of others ending with it) goes together.
      await Promise.resolve();
      while (this.pending.length > 0) {
        const batch = unique(this.pending.splice(0));
        try {
          await this.sql`
            SELECT pg_notify(n.channel, n.payload)
            FROM unnest(${batch.map((n) => n.channel)}::text[], ${batch.map((n) => n.payload)}::text[]) AS n(channel, payload)`;
        } catch (err) {
          this.onError(err);
        }
      }
    } finally {
      this.sending = null;
    }
  }
}

/** The same notice twice in one statement is delivered once anyway (PostgreSQL folds them): sent once. */
function unique(notices: Notice[]): Notice[] {
  const seen = new Set<string>();
  return notices.filter((n) => {
    const key = `${n.channel}\u0000${n.payload}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
