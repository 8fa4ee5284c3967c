import type postgres from 'postgres';
import { announce } from './after-commit.js';
import type { Tx } from './database.js';

/** Channel on which every committed VM or operation change is announced. */
export const CHANGES_CHANNEL = 'hangar_changes';
/** Channel that wakes workers when an operation is queued. */
export const WORK_CHANNEL = 'hangar_work';

export interface ChangeNotice {
  /** The VM that changed; for an image's change, the image's id. */
  vm_id: string;
  operation_id: string | null;
  /**
   * The VM's status once the change committed, or no VM status at all (an image's, `resync`
   * after a reconnect, `cancelled` for an operation preempted): a caller waiting for a VM's
   * status reads the row at a notice of a status it waits for, `deleted`, or no VM status, and
   * at no other (`services/waits.ts`). A notice giving a VM status the VM does not then have
   * would keep such a caller waiting.
   */
  status: string;
  /**
   * The operation named is still open (queued or running) after this change: a caller waiting
   * for it to finish has nothing to read again. Absent: it may have finished.
   */
  operation_open?: true;
}

/** Announces a change, delivered once (and only if) the transaction commits (`announce`). */
export function notifyChange(tx: Tx, notice: ChangeNotice): Promise<void> {
  return announce(tx, CHANGES_CHANNEL, JSON.stringify(notice));
}

/** The work notice of work on no host: an image to download (a VM's operation names its host). */
export const NO_HOST_WORK = '';

export function notifyWork(tx: Tx, hostId: string | null): Promise<void> {
  return announce(tx, WORK_CHANNEL, hostId ?? NO_HOST_WORK);
}

type Listener = (notice: ChangeNotice) => void;

/**
 * One LISTEN connection per process, fanned out to in-process subscribers by VM and
 * operation id, so waiting callers wake on commit instead of polling.
 */
export class Notifier {
  private readonly byKey = new Map<string, Set<Listener>>();
  private readonly work = new Set<(hostId: string) => void>();
  private readonly subscriptions: { unlisten(): Promise<void> }[] = [];

  private constructor() {}

  static async start(sql: postgres.Sql): Promise<Notifier> {
    const n = new Notifier();
    let connections = 0;
    n.subscriptions.push(
      await sql.listen(
        CHANGES_CHANNEL,
        (payload) => n.dispatch(payload),
        // After a reconnect, notifications sent meanwhile are lost: every waiter re-checks.
        () => {
          if (connections++ > 0) n.resync();
        },
      ),
    );
    n.subscriptions.push(
      await sql.listen(WORK_CHANNEL, (payload) => {
        for (const l of n.work) l(payload);
      }),
    );
    return n;
  }

  /** Calls `listener` for each change to the VM or operation with this id; returns the unsubscribe. */
  subscribe(id: string, listener: Listener): () => void {
    let set = this.byKey.get(id);
    if (!set) {
      set = new Set();
      this.byKey.set(id, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byKey.delete(id);
    };
  }

  onWork(listener: (hostId: string) => void): () => void {
    this.work.add(listener);
    return () => this.work.delete(listener);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.subscriptions.map((s) => s.unlisten()));
    this.subscriptions.length = 0;
  }

  private resync(): void {
    for (const [id, set] of this.byKey) for (const l of set) l({ vm_id: id, operation_id: null, status: 'resync' });
    // Work announced meanwhile was lost too: every worker and waiting claim looks again.
    for (const l of this.work) l('');
  }

  private dispatch(payload: string): void {
    let notice: ChangeNotice;
    try {
      notice = JSON.parse(payload) as ChangeNotice;
    } catch {
      return;
    }
    for (const id of [notice.vm_id, notice.operation_id]) {
      if (!id) continue;
      for (const l of this.byKey.get(id) ?? []) l(notice);
    }
  }
}
