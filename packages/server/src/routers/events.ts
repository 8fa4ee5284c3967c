import { StreamPosition, WatchFilter } from '@hangar/core';
import { tracked } from '@trpc/server';
import { router } from '../trpc/init.js';
import { translated, viewerProcedure } from '../trpc/procedures.js';

/** tRPC's reconnecting clients send the last id they saw as `lastEventId`. */
const WatchInput = WatchFilter.extend({ lastEventId: StreamPosition.nullish() }).optional();

export const eventsRouter = router({
  /**
   * The watch stream as a tRPC subscription (over SSE): the same source, filter and rights as
   * `GET /api/v1/events/stream`. Each event is tracked by its stream position, so tRPC's client
   * resumes after the last one it saw.
   */
  watch: viewerProcedure.input(WatchInput).subscription(async function* ({ ctx, input, signal, path }) {
    const { lastEventId, ...rest } = input ?? {};
    const filter = lastEventId ? { ...rest, after: lastEventId } : rest;
    // A refusal (403, 404, 429) is told with its own code, as any procedure's: thrown from here
    // it would pass no middleware, and tRPC would call it an internal error.
    try {
      const release = ctx.waits.acquire(ctx.principal);
      try {
        const stop = AbortSignal.any([signal ?? new AbortController().signal, ctx.shutdown]);
        const { events } = await ctx.services.events.watch({ scope: ctx.scope, global_admin: ctx.principal.global_admin }, filter, stop);
        // Built by the store from its own rows: not parsed again (a row it could not parse would end every resumed stream at it).
        for await (const e of events) yield tracked(e.id, e);
      } finally {
        release();
      }
    } catch (err) {
      throw translated(ctx, err, path);
    }
  }),
});
