import type postgres from 'postgres';
import type { WatchEvent } from '../domain/watch.js';
import { allEventsAfter, type EventQuery, eventsAfter, matches } from './event-rows.js';
import { EVENTS_SEQUENCED_CHANNEL, EVENTS_WRITTEN_CHANNEL, lastSequenced, sequenceEvents } from './event-sequencer.js';

/** Events read per query. */
const PAGE = 500;
/** Events the shared tail reads per query. */
const TAIL_PAGE = 1_000;
/** Events held for a watcher that reads slower than they come; beyond, it reads from the table again. */
const MAX_BUFFER = 5_000;

export interface EventFeedOptions {
  /**
   * While anyone watches, events are sequenced and read at least this often: a notification
   * lost to a reconnect of the listening connection delays an event by this much, never loses it.
   */
  tick_ms?: number;
  /** Events held for a watcher that reads slower than they come (default MAX_BUFFER). */
  max_buffer?: number;
  onError?: (err: unknown) => void;
}

interface Watcher {
  q: EventQuery;
  /** The last position it was given. */
  cursor: number;
  /** Up to here it reads the table itself (catching up); past here the shared tail feeds it. */
  liveFrom: number;
  /** Events of the shared tail past `liveFrom`, not yet taken. */
  buffer: WatchEvent[];
  wake: () => void;
}

/**
 * The watch stream's source in one process. It listens for committed events, gives them their
 * places (`sequenceEvents`) while someone here watches, and reads the new ones once for all of
 * this process's watchers (the shared tail), handing each the events its filter lets through.
 * A watcher behind the tail (a replay, a reconnect, one that reads slowly) reads the table
 * itself up to where the tail took over, then takes from the tail: no gap, no duplicate, and the
 * database's work grows with the events, not with the watchers times the events.
 */
export class EventFeed {
  private readonly watchers = new Set<Watcher>();
  /** The last position the shared tail read; null while nobody watches (it starts anew). */
  private head: Promise<number> | null = null;
  private sequencing: Promise<void> | null = null;
  private sequenceAgain = false;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private readonly subscriptions: { unlisten(): Promise<void> }[] = [];
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly sql: postgres.Sql,
    private readonly opts: EventFeedOptions,
  ) {}

  static async start(sql: postgres.Sql, opts: EventFeedOptions = {}): Promise<EventFeed> {
    const feed = new EventFeed(sql, opts);
    let connections = 0;
    feed.subscriptions.push(
      await sql.listen(EVENTS_WRITTEN_CHANNEL, () => {
        if (feed.watchers.size > 0) void feed.sequence();
      }),
      await sql.listen(
        EVENTS_SEQUENCED_CHANNEL,
        () => {
          void feed.readTail();
        },
        // After a reconnect, what was announced meanwhile is read now.
        () => {
          if (connections++ > 0 && feed.watchers.size > 0) void feed.sequence().then(() => feed.readTail());
        },
      ),
    );
    feed.timer = setInterval(() => {
      if (feed.watchers.size > 0) void feed.sequence().then(() => feed.readTail());
    }, opts.tick_ms ?? 1_000);
    feed.timer.unref();
    return feed;
  }

  /** Runs `step` once now, or once more after the run in progress (calls meanwhile fold into it). */
  private once(kind: 'sequencing' | 'reading', step: () => Promise<void>): Promise<void> {
    const again = kind === 'sequencing' ? 'sequenceAgain' : 'readAgain';
    if (this[kind]) {
      this[again] = true;
      return this[kind];
    }
    const run = (async () => {
      try {
        do {
          this[again] = false;
          await step();
        } while (this[again]);
      } catch (err) {
        // The database is away: the next tick or notification tries again.
        this.opts.onError?.(err);
      } finally {
        this[kind] = null;
      }
    })();
    this[kind] = run;
    return run;
  }

  /** Gives places to what is unsequenced. */
  sequence(): Promise<void> {
    return this.once('sequencing', async () => {
      await sequenceEvents(this.sql);
    });
  }

  /** Reads the new events once and hands each watcher those its filter lets through. */
  private readTail(): Promise<void> {
    if (this.watchers.size === 0) return Promise.resolve();
    return this.once('reading', async () => {
      for (;;) {
        const head = this.head;
        if (!head || this.watchers.size === 0) return;
        const from = await head;
        const rows = await allEventsAfter(this.sql, from, TAIL_PAGE);
        // Nobody watched meanwhile: the tail starts anew with the next watcher.
        if (this.head !== head || rows.length === 0) return;
        // From here to the end of the loop body nothing awaits: a watcher that registers now
        // sees either the old head (and these events) or the new one (and none of them).
        const last = Number(rows[rows.length - 1]!.event.id);
        this.head = Promise.resolve(last);
        for (const w of this.watchers) {
          let added = false;
          for (const row of rows) {
            if (Number(row.event.id) > w.liveFrom && matches(w.q, row)) {
              w.buffer.push(row.event);
              added = true;
            }
          }
          if (w.buffer.length > (this.opts.max_buffer ?? MAX_BUFFER)) {
            // Too slow to keep in memory: it reads the table again, up to here.
            w.buffer = [];
            w.liveFrom = last;
            added = true;
          }
          if (added) w.wake();
        }
        if (rows.length < TAIL_PAGE) return;
      }
    });
  }

  /**
   * Where a watch begins: `after` if given, else the last place given so far (a watch from now).
   * Events written while nobody here watched get their places first.
   */
  async position(after?: number): Promise<number> {
    await this.sequence();
    return after ?? (await lastSequenced(this.sql));
  }

  /**
   * The events the query lets through, placed after `cursor`, in stream order, until `signal`
   * aborts. A database error while it catches up ends it (the caller resumes from the last id it saw).
   */
  async *watch(q: EventQuery, cursor: number, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    let woken: () => void = () => {};
    const w: Watcher = { q, cursor, liveFrom: 0, buffer: [], wake: () => woken() };
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    // Registered in the same turn as it learns where the tail is: a read of the tail that ends
    // while it waits hands out events it would then have neither read nor been given.
    for (;;) {
      this.head ??= lastSequenced(this.sql);
      const head = this.head;
      try {
        w.liveFrom = await head;
      } catch (err) {
        if (this.head === head) this.head = null;
        throw err;
      }
      if (this.head === head) break;
    }
    this.watchers.add(w);
    // Events placed before it came that the tail has not read yet.
    void this.readTail();
    try {
      while (!signal.aborted) {
        if (w.cursor < w.liveFrom) {
          // Read as it is now: the tail may move liveFrom on (this watcher too slow) while these are taken.
          const upTo = w.liveFrom;
          const batch = await eventsAfter(this.sql, w.cursor, q, PAGE, upTo);
          for (const e of batch) {
            if (signal.aborted) return;
            yield e;
            w.cursor = Number(e.id);
          }
          // Every place up to liveFrom was committed when the tail read past it: nothing more comes below it.
          if (batch.length < PAGE) w.cursor = Math.max(w.cursor, upTo);
          continue;
        }
        const e = w.buffer.shift();
        if (e) {
          if (Number(e.id) > w.cursor) {
            yield e;
            w.cursor = Number(e.id);
          }
          continue;
        }
        await Promise.race([new Promise<void>((resolve) => (woken = resolve)), aborted]);
      }
    } finally {
      this.watchers.delete(w);
      if (this.watchers.size === 0) this.head = null;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watchers) w.wake();
    await Promise.allSettled(this.subscriptions.map((s) => s.unlisten()));
    await Promise.allSettled([this.sequencing, this.reading]);
  }
}
