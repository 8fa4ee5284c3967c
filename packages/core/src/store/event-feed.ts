import type postgres from 'postgres';
import type { WatchEvent } from '../domain/watch.js';
import { type EventQuery, eventsAfter } from './event-rows.js';
import { EVENTS_SEQUENCED_CHANNEL, EVENTS_WRITTEN_CHANNEL, lastSequenced, sequenceEvents } from './event-sequencer.js';

/** Events read per query; a watcher behind by more reads again at once. */
const PAGE = 500;

export interface EventFeedOptions {
  /**
   * While anyone watches, events are sequenced at least this often: a notification lost to a
   * reconnect of the listening connection delays an event by this much, never loses it.
   */
  tick_ms?: number;
  onError?: (err: unknown) => void;
}

/**
 * The watch stream's source in one process: listens for committed events, gives them their
 * places (`sequenceEvents`) while someone here watches, and wakes this process's watchers when
 * places are given (by this process or another). Watchers read from the table, so a replay and
 * the live tail are the same query.
 */
export class EventFeed {
  private watchers = 0;
  private wake: { promise: Promise<void>; resolve: () => void } = EventFeed.signal();
  private sequencing: Promise<void> | null = null;
  private again = false;
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
        if (feed.watchers > 0) void feed.sequence();
      }),
      await sql.listen(
        EVENTS_SEQUENCED_CHANNEL,
        () => feed.wakeAll(),
        // After a reconnect, what was announced meanwhile is read now.
        () => {
          if (connections++ > 0 && feed.watchers > 0) void feed.sequence().then(() => feed.wakeAll());
        },
      ),
    );
    feed.timer = setInterval(() => {
      if (feed.watchers > 0) void feed.sequence();
    }, opts.tick_ms ?? 1_000);
    feed.timer.unref();
    return feed;
  }

  private static signal() {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    return { promise, resolve };
  }

  private wakeAll(): void {
    const w = this.wake;
    this.wake = EventFeed.signal();
    w.resolve();
  }

  /** Sequences what is unsequenced; calls that arrive meanwhile fold into one more run. */
  sequence(): Promise<void> {
    if (this.sequencing) {
      this.again = true;
      return this.sequencing;
    }
    this.sequencing = (async () => {
      try {
        do {
          this.again = false;
          await sequenceEvents(this.sql);
        } while (this.again);
      } catch (err) {
        // The database is away: the next tick or notification tries again; watchers' own reads fail and end their streams.
        this.opts.onError?.(err);
      } finally {
        this.sequencing = null;
      }
    })();
    return this.sequencing;
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
   * aborts. A database error ends it (the caller resumes from the last id it saw).
   */
  async *watch(q: EventQuery, cursor: number, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    this.watchers++;
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      while (!signal.aborted) {
        // Taken before reading: places given while the read runs wake the next wait.
        const woke = this.wake.promise;
        const batch = await eventsAfter(this.sql, cursor, q, PAGE);
        for (const e of batch) {
          if (signal.aborted) return;
          yield e;
          cursor = Number(e.id);
        }
        if (batch.length < PAGE) await Promise.race([woke, aborted]);
      }
    } finally {
      this.watchers--;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.wakeAll();
    await Promise.allSettled(this.subscriptions.map((s) => s.unlisten()));
    await this.sequencing;
  }
}
