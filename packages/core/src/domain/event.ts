import { z } from 'zod';
import { Timestamp, Uuid } from './fields.js';
import { VmStatus } from './status.js';

export const EVENT_TYPES = [
  'vm.created',
  'vm.updated',
  'vm.status_changed',
  'vm.drift',
  /** Something the hypervisor reported that left the status as it was (a guest reset, a power-button press). */
  'vm.hypervisor_event',
  'operation.queued',
  'operation.started',
  'operation.succeeded',
  'operation.failed',
  'operation.cancelled',
  'operation.retried',
  /** The host could not be reached; the operation waits and is tried again. */
  'operation.retrying',
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const VmEvent = z
  .object({
    id: z.int(),
    vm_id: Uuid,
    project_id: Uuid,
    operation_id: Uuid.nullable(),
    type: EventType,
    message: z.string(),
    from_status: VmStatus.nullable(),
    to_status: VmStatus.nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: Timestamp,
  })
  .meta({ id: 'VmEvent' });
export type VmEvent = z.infer<typeof VmEvent>;

export const ListEventsQuery = z.strictObject({
  /** Only events after this id (what the last page ended with). */
  after: z.int().min(0).optional(),
  limit: z.int().min(1).max(500).default(100),
});
export type ListEventsQuery = z.input<typeof ListEventsQuery>;
