import { sql as dsql } from 'drizzle-orm';
import type { Db, Tx } from './database.js';
import { type Notice, NoticePublisher } from './notice-publisher.js';

/** Each database's publisher (one per process and connection pool). */
const publishers = new WeakMap<object, NoticePublisher>();
/** Notices of top-level transactions still open, sent when (and only if) they commit. */
const held = new WeakMap<object, Notice[]>();

export function publisherOf(db: Db): NoticePublisher {
  let p = publishers.get(db);
  if (!p) {
    p = new NoticePublisher(db.$client);
    publishers.set(db, p);
  }
  return p;
}

/**
 * Runs a top-level transaction's body so that what it announces (`announce`) is sent after it
 * commits; nothing is sent for an attempt that rolls back.
 */
export async function withNoticesAfterCommit<T>(db: Db, run: (hold: (tx: object) => void) => Promise<T>): Promise<T> {
  let notices: Notice[] = [];
  const result = await run((tx) => {
    notices = [];
    held.set(tx, notices);
  });
  publisherOf(db).publish(notices);
  return result;
}

/**
 * Announces a change on a channel once what `tx` wrote is visible: after commit for a top-level
 * transaction, at once for a statement on the database itself (it has committed), and by a
 * NOTIFY in the transaction for a savepoint's (rare: PostgreSQL delivers it at commit).
 */
export async function announce(tx: Tx, channel: string, payload: string): Promise<void> {
  const notices = held.get(tx);
  if (notices) {
    notices.push({ channel, payload });
    return;
  }
  const publisher = publishers.get(tx);
  if (publisher) {
    publisher.publish([{ channel, payload }]);
    return;
  }
  await tx.execute(dsql`SELECT pg_notify(${channel}, ${payload})`);
}
