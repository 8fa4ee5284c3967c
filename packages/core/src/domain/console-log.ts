import { z } from 'zod';
import { Uuid } from './fields.js';

/** How much of the end of a console log one call reads, at most. */
export const MAX_CONSOLE_TAIL_BYTES = 1024 * 1024;

export const ConsoleLogRequest = z.strictObject({
  id: Uuid,
  /** How much of the end of the log (bytes, default 64 KiB). */
  tail_bytes: z
    .int()
    .min(1)
    .max(MAX_CONSOLE_TAIL_BYTES)
    .default(64 * 1024),
});
export type ConsoleLogRequest = z.input<typeof ConsoleLogRequest>;

export const VmConsoleLog = z
  .object({
    vm_id: Uuid,
    /** The end of what the guest wrote to its serial console (UTF-8). */
    text: z.string(),
    /** How long the whole log is. */
    size_bytes: z.int(),
    /** Whether `text` is only its end. */
    truncated: z.boolean(),
  })
  .meta({ id: 'VmConsoleLog' });
export type VmConsoleLog = z.infer<typeof VmConsoleLog>;
