import { and, asc, eq, gt } from 'drizzle-orm';
import { type EventType, ListEventsQuery, type VmEvent } from '../domain/event.js';
import type { Scope } from '../domain/project.js';
import type { VmStatus } from '../domain/status.js';
import { announce } from '../store/after-commit.js';
import type { Db, Tx } from '../store/database.js';
import { EVENTS_WRITTEN_CHANNEL } from '../store/event-sequencer.js';
import { toEvent } from '../store/mappers.js';
import { events } from '../store/schema.js';
import { parse, parseId } from './validate.js';
import { requireVm } from './vm-queries.js';

export interface NewEvent {
  vm_id: string;
  project_id: string;
  operation_id?: string | null;
  type: EventType;
  message: string;
  from_status?: VmStatus | null;
  to_status?: VmStatus | null;
  data?: Record<string, unknown>;
}

/** An event as its row is inserted. */
export function eventRow(e: NewEvent) {
  return {
    vm_id: e.vm_id,
    project_id: e.project_id,
    operation_id: e.operation_id ?? null,
    type: e.type,
    message: e.message,
    from_status: e.from_status ?? null,
    to_status: e.to_status ?? null,
    data: e.data ?? {},
  };
}

export async function appendEvents(tx: Tx, list: NewEvent[]): Promise<void> {
  if (list.length === 0) return;
  await tx.insert(events).values(list.map(eventRow));
  // The event feed's sequencer wakes once they are committed.
  await announce(tx, EVENTS_WRITTEN_CHANNEL, '');
}

/** A VM's events, oldest first, after the given event id. */
export async function listEvents(db: Db, scope: Scope, vmId: string, query: ListEventsQuery = {}): Promise<VmEvent[]> {
  const id = parseId(vmId, 'vm id');
  const q = parse(ListEventsQuery, query, 'event query');
  await requireVm(db, scope, id);
  const rows = await db
    .select()
    .from(events)
    .where(and(eq(events.vm_id, id), eq(events.project_id, scope.project_id), gt(events.id, q.after ?? 0)))
    .orderBy(asc(events.id))
    .limit(q.limit);
  return rows.map(toEvent);
}
