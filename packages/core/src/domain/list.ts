import { z } from 'zod';
import { LabelKey, LabelValue, OsType, Text, Uuid, VmName } from './fields.js';
import { GpuHealth, GpuName } from './gpu.js';
import { HostName } from './host.js';
import { VmStatus } from './status.js';
import { Vm } from './vm.js';

/** One value or a list of them (`?status=running` or `?status=running&status=paused`); used optional, so never undefined here. */
export const oneOrMany = <T extends z.ZodType>(item: T) => z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(item).max(20));

/** `key=value`, or a bare `key` meaning "has this label". */
export function parseLabelSelector(s: string): { key: string; value: string | undefined } | null {
  const eq = s.indexOf('=');
  const [key, value] = eq === -1 ? [s, undefined] : [s.slice(0, eq), s.slice(eq + 1)];
  if (!LabelKey.safeParse(key).success) return null;
  if (value !== undefined && !LabelValue.safeParse(value).success) return null;
  return { key, value };
}

export const LabelSelector = z
  .string()
  .max(320)
  .refine((s) => parseLabelSelector(s) !== null, { message: 'not a label selector (key=value or key)' });

export const ListVmsQuery = z.strictObject({
  page: z.int().min(1).max(1_000_000).default(1),
  per_page: z.int().min(1).max(100).default(20),
  /** Opaque keyset cursor from a previous page's `next_cursor`; when given, `page` is ignored. */
  cursor: z.string().max(200).optional(),
  status: oneOrMany(VmStatus).optional(),
  /** The VM with this number (`vm 42`); deleted ones only with `include_deleted`. */
  number: z
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .optional(),
  /** The VM with exactly this name. */
  name: VmName.optional(),
  /** The host's id, its number or its name: all digits is tried as the host's number first (`server_id` is accepted for it too). */
  host_id: z.union([Uuid, HostName]).optional(),
  os_type: OsType.optional(),
  label: oneOrMany(LabelSelector).optional(),
  /** VMs holding (or asking for) GPUs of this model: words of its name, or its vendor:device id. */
  gpu_model: GpuName.optional(),
  /** Case-insensitive substring of the name. */
  search: Text.min(1).max(63).optional(),
  include_deleted: z.boolean().default(false),
});
export type ListVmsQuery = z.input<typeof ListVmsQuery>;

export const VmPage = z
  .object({
    vms: z.array(Vm),
    /** Exact up to 1,000 matches; above that the planner's estimate (see `total_is_estimate`). */
    total: z.int(),
    total_is_estimate: z.boolean(),
    /** The page number in page mode; null when paging by cursor. */
    page: z.int().nullable(),
    per_page: z.int(),
    total_pages: z.int(),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'VmPage' });
export type VmPage = z.infer<typeof VmPage>;

/** The fleet's GPUs (admins), filtered. */
export const ListGpusQuery = z.strictObject({
  /** The host's id, its number or its name (all digits is tried as a number first). */
  host_id: z.union([Uuid, HostName]).optional(),
  /** Words of the model's name, or its vendor:device id. */
  model: GpuName.optional(),
  /** Only free ones (true) or only held ones (false). */
  free: z.boolean().optional(),
  health: GpuHealth.optional(),
});
export type ListGpusQuery = z.input<typeof ListGpusQuery>;
