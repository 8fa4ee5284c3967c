import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../src/domain/watch.js';
import type { Database } from '../src/store/database.js';
import { EventFeed } from '../src/store/event-feed.js';
import type { EventQuery } from '../src/store/event-rows.js';
import { createTestDatabase } from '../src/testing/index.js';

// The feed's shared tail, under the loads a stream meets: many watchers with different filters,
// one that reads slower than events come, writers in many transactions at once.

let database: Database;
let feed: EventFeed;
beforeAll(async () => {
  database = await createTestDatabase();
  // A buffer of 5: a slow reader overflows it at once and goes back to the table.
  feed = await EventFeed.start(database.sql, { max_buffer: 5, tick_ms: 200 });
});
afterAll(async () => {
  await feed?.close();
  await database?.close();
});

/** `n` events of `project`, each in its own transaction, `parallel` at a time. */
async function write(project: string, n: number, parallel = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        await database.sql`INSERT INTO events (project_id, type, message) VALUES (${project}, 'vm.updated', ${`event ${i}`})`;
      }
    }),
  );
}

async function collect(q: EventQuery, count: number, opts: { slow_ms?: number; after?: number } = {}) {
  const ctl = new AbortController();
  const seen: WatchEvent[] = [];
  const cursor = await feed.position(opts.after);
  const done = (async () => {
    for await (const e of feed.watch(q, cursor, ctl.signal)) {
      seen.push(e);
      if (opts.slow_ms) await new Promise((r) => setTimeout(r, opts.slow_ms));
      if (seen.length >= count) break;
    }
  })();
  return { seen, done, stop: () => ctl.abort() };
}

describe('the event feed', () => {
  it('gives each of many watchers its own events, once each and in order, a slow one too', async () => {
    const projects = [randomUUID(), randomUUID(), randomUUID()];
    const watchers = await Promise.all([
      ...projects.map((p) => collect({ access: { project_id: p } }, 60)),
      collect({ access: { project_id: projects[0]! } }, 60, { slow_ms: 15 }),
      collect({ access: { all: true, hosts: true } }, 180),
    ]);
    await Promise.all(projects.map((p) => write(p, 60)));
    await Promise.race([Promise.all(watchers.map((w) => w.done)), new Promise((r) => setTimeout(r, 20_000))]);
    for (const w of watchers) w.stop();

    for (const [i, p] of projects.entries()) {
      const got = watchers[i]!.seen;
      expect(got.every((e) => e.project_id === p)).toBe(true);
      expect(new Set(got.map((e) => e.event_id)).size).toBe(60);
    }
    const slow = watchers[3]!.seen;
    expect(new Set(slow.map((e) => e.event_id)).size).toBe(60);
    expect(slow.map((e) => e.event_id).sort((a, b) => a - b)).toEqual(watchers[0]!.seen.map((e) => e.event_id).sort((a, b) => a - b));
    const all = watchers[4]!.seen;
    expect(new Set(all.map((e) => e.event_id)).size).toBe(180);
    for (const w of watchers) {
      const positions = w.seen.map((e) => Number(e.id));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });

  it('replays from a position, then goes on live, without a gap between the two', async () => {
    const p = randomUUID();
    await write(p, 30);
    const replay = await collect({ access: { project_id: p } }, 60, { after: 0 });
    await write(p, 30);
    await Promise.race([replay.done, new Promise((r) => setTimeout(r, 20_000))]);
    replay.stop();
    expect(new Set(replay.seen.map((e) => e.event_id)).size).toBe(60);
    const rows = await database.sql`SELECT id FROM events WHERE project_id = ${p} ORDER BY id`;
    expect(replay.seen.map((e) => e.event_id).sort((a, b) => a - b)).toEqual(rows.map((r) => Number(r.id)));
  });
});
