import { appRouter } from '../router.js';
import type { Context } from './context.js';

/** A procedure as tRPC's server-side caller calls it: the whole procedure, every middleware of it included. */
export type DirectProcedure = ((opts: {
  path: string;
  getRawInput: () => Promise<unknown>;
  ctx: Context;
  type: 'query' | 'mutation';
  signal: AbortSignal | undefined;
  batchIndex: number;
}) => Promise<unknown>) & { _def: { type: 'query' | 'mutation' | 'subscription' } };

const procedures = appRouter._def.procedures as unknown as Record<string, DirectProcedure>;

/**
 * The procedure at `path` (`vms.get`), called the way tRPC's `createCaller` calls it but
 * without building the caller's proxies on every request: the REST adapter and the single-query
 * path use it.
 */
export function procedureAt(path: string): DirectProcedure | undefined {
  return Object.hasOwn(procedures, path) ? procedures[path] : undefined;
}

export function callProcedure(path: string, procedure: DirectProcedure, ctx: Context, input: unknown): Promise<unknown> {
  const type = procedure._def.type;
  if (type === 'subscription') throw new Error(`${path} is a subscription`);
  // No signal of its own: a procedure that waits asks the context (`client_gone`) whether the
  // caller went away, which costs nothing until it does.
  return procedure({ path, getRawInput: async () => input, ctx, type, signal: undefined, batchIndex: 0 });
}
