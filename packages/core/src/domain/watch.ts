import { z } from 'zod';
import { EVENT_TYPES } from './event.js';
import { Timestamp, Uuid } from './fields.js';
import { LabelSelector, oneOrMany } from './list.js';

/** What a watch event is about; each event type starts with its kind (`vm.created`, `host.updated`). */
export const WATCH_KINDS = ['vm', 'operation', 'image', 'host'] as const;
export const WatchKind = z.enum(WATCH_KINDS);
export type WatchKind = z.infer<typeof WatchKind>;

/** Every event the watch stream carries: a VM's and its operations' (EVENT_TYPES), an image's and a host's. */
export const WATCH_EVENT_TYPES = [
  ...EVENT_TYPES,
  'image.created',
  'image.status_changed',
  'image.deleted',
  'host.registered',
  'host.status_changed',
  'host.updated',
  'host.removed',
] as const;
export const WatchEventType = z.enum(WATCH_EVENT_TYPES);
export type WatchEventType = z.infer<typeof WatchEventType>;

/** A position in the stream: the `id` of the last event seen (SSE's `Last-Event-ID`). `0` is the beginning. */
export const StreamPosition = z.string().regex(/^\d{1,15}$/, { message: 'a stream position is the id of an event (digits)' });

export const WatchFilter = z.strictObject({
  /** Only this VM's events (and its operations'). */
  vm_id: Uuid.optional(),
  /** Only events of VMs carrying these labels (`key=value` or `key`); images and hosts carry none. */
  label: oneOrMany(LabelSelector).optional(),
  /** Only these event types or kinds (`vm`, `operation`, `image`, `host`). */
  type: oneOrMany(z.union([WatchEventType, WatchKind])).optional(),
  /** Global admins: another project's events. */
  project_id: Uuid.optional(),
  /** Global admins: every project's events and the hosts'. */
  all_projects: z.boolean().default(false),
  /** Replay what came after this position, then go live; without it the stream starts now. */
  after: StreamPosition.optional(),
});
export type WatchFilter = z.input<typeof WatchFilter>;

export const WatchEvent = z
  .object({
    /** The event's position in the stream: resume after it with `after` or `Last-Event-ID`. */
    id: StreamPosition,
    /** The event's own id (what `GET /vms/{id}/events` lists it by). */
    event_id: z.int(),
    kind: WatchKind,
    type: WatchEventType,
    project_id: Uuid.nullable(),
    vm_id: Uuid.nullable(),
    operation_id: Uuid.nullable(),
    image_id: Uuid.nullable(),
    host_id: Uuid.nullable(),
    message: z.string(),
    from_status: z.string().nullable(),
    to_status: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: Timestamp,
  })
  .meta({ id: 'WatchEvent' });
export type WatchEvent = z.infer<typeof WatchEvent>;

/** Whose events a caller may watch, decided from who they are (the transport's job). */
export type WatchAccess = { project_id: string } | { all: true; hosts: true };
