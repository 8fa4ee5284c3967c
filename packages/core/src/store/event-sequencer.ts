import type postgres from 'postgres';

/** Sent when events got their places in the stream: watchers read on. */
export const EVENTS_SEQUENCED_CHANNEL = 'hangar_events_sequenced';
/** Sent when a transaction that wrote events has committed: by the process for VM events, by a trigger for host and image events. */
export const EVENTS_WRITTEN_CHANNEL = 'hangar_events_written';

/**
 * One sequencer at a time, across every process on the database. The two-key form: a key space
 * of its own, apart from the one-key locks whose keys are hashes of tenants' input (idempotency keys).
 */
const SEQUENCER_LOCK = [727274, 2] as const;
const BATCH = 5_000;

/**
 * Gives committed events their places in the watch stream (`events.seq`), in one transaction
 * per batch, one sequencer at a time.
 *
 * Why not the event's own id: ids are taken when a row is inserted but become visible when its
 * transaction commits, in another order. A watcher that read up to id 101 would never see id 100
 * committing after. Only committed rows are visible here, and sequencers run one after another,
 * so every place given later is greater than every place given before: a watcher that resumes
 * after a place misses nothing and sees nothing twice.
 *
 * Returns how many events got a place.
 */
export async function sequenceEvents(sql: postgres.Sql): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${SEQUENCER_LOCK[0]}::int, ${SEQUENCER_LOCK[1]}::int)`;
      const rows = await tx`
        WITH batch AS (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT ${BATCH}),
             placed AS (SELECT id, nextval('events_seq_seq') AS seq FROM batch ORDER BY id)
        UPDATE events e SET seq = placed.seq FROM placed WHERE e.id = placed.id
        RETURNING e.id`;
      if (rows.length > 0) await tx`SELECT pg_notify(${EVENTS_SEQUENCED_CHANNEL}, '')`;
      return rows.length;
    });
    total += n;
    if (n < BATCH) return total;
  }
}

/** The last place given: where a watch that starts now begins. */
export async function lastSequenced(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ seq: string | null }[]>`SELECT max(seq)::text AS seq FROM events`;
  return Number(row?.seq ?? 0);
}
