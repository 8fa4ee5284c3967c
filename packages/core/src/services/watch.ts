import { and, eq } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import type { Scope } from '../domain/project.js';
import { WATCH_KINDS, type WatchAccess, type WatchEvent, WatchFilter, type WatchKind } from '../domain/watch.js';
import type { Db } from '../store/database.js';
import type { EventFeed } from '../store/event-feed.js';
import type { EventQuery } from '../store/event-rows.js';
import { vms } from '../store/schema.js';
import { parse } from './validate.js';

export interface OpenedWatch {
  /** Where the stream begins (a client that reconnects before any event resumes from here). */
  position: string;
  events: AsyncGenerator<WatchEvent>;
}

/** Who watches: their project, and whether they may look at every project (a global admin). */
export interface Watcher {
  scope: Scope;
  global_admin: boolean;
}

/**
 * Opens a watch: the filter is checked (400), the caller's right to it (403) and the VM it
 * names (404) before the first event, so a refused watch never starts a stream. Then the events
 * of the caller's project (a global admin's pick: another project with the hosts', or
 * everything) that the filter lets through, replayed from `after` and then live.
 */
export async function openWatch(
  db: Db,
  feed: EventFeed | undefined,
  who: Watcher,
  rawFilter: unknown,
  signal: AbortSignal,
): Promise<OpenedWatch> {
  if (!feed) throw new Error('openWatch needs the event feed');
  const f = parse(WatchFilter, rawFilter, 'watch filter');
  if ((f.all_projects || (f.project_id && f.project_id !== who.scope.project_id)) && !who.global_admin) {
    throw errors.forbidden("Only a global admin watches another project's events or all of them");
  }
  if (f.all_projects && f.project_id) {
    throw errors.validation('Give project_id or all_projects, not both', [{ path: 'all_projects', message: 'conflicts with project_id' }]);
  }
  // Only a global admin's look goes beyond one project (and takes in the hosts): anyone else
  // naming their own project is simply watching it.
  const wide = who.global_admin && (f.all_projects || f.project_id !== undefined);
  const project_id = f.project_id ?? who.scope.project_id;
  if (f.vm_id) {
    const [vm] = await db
      .select({ id: vms.id })
      .from(vms)
      .where(f.all_projects && who.global_admin ? eq(vms.id, f.vm_id) : and(eq(vms.id, f.vm_id), eq(vms.project_id, project_id)));
    if (!vm) throw errors.vmNotFound(f.vm_id);
  }
  const access: WatchAccess = wide ? { all: true, hosts: true } : { project_id };
  const kinds = (f.type ?? []).filter((t): t is WatchKind => (WATCH_KINDS as readonly string[]).includes(t));
  const query: EventQuery = {
    access,
    project_id: wide ? f.project_id : undefined,
    vm_id: f.vm_id,
    label: f.label,
    kinds,
    types: (f.type ?? []).filter((t) => !kinds.includes(t as WatchKind)),
  };
  const position = await feed.position(f.after === undefined ? undefined : Number(f.after));
  return { position: String(position), events: feed.watch(query, position, signal) };
}
