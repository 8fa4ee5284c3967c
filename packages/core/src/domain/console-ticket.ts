import { z } from 'zod';
import { Timestamp } from './fields.js';

/**
 * A ticket to open a VM's screen over a WebSocket. Browsers cannot send an Authorization header
 * with a WebSocket, and an API key in a URL ends up in logs and history: a ticket is what the
 * URL carries instead, worth one connection to one VM, for a minute.
 */
export const ConsoleTicket = z
  .object({
    /** Random, single use. */
    ticket: z.string(),
    /** Where to open the WebSocket (on this API's origin, `ws:` or `wss:`), the ticket included. */
    path: z.string(),
    /** When the ticket stops opening anything, if unused. */
    expires_at: Timestamp,
  })
  .meta({ id: 'ConsoleTicket' });
export type ConsoleTicket = z.infer<typeof ConsoleTicket>;
