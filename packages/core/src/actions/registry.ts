import type { z } from 'zod';
import type { OperationAction } from '../domain/state-machine.js';
import type { ActionDefinition, Outcome, PerformContext, Requestable } from './action.js';
import { create } from './create.js';
import { deleteAction } from './delete.js';
import { exportAction } from './export.js';
import { force_stop } from './force-stop.js';
import { pause } from './pause.js';
import { reset } from './reset.js';
import { restart } from './restart.js';
import { resume } from './resume.js';
import { start } from './start.js';
import { stop } from './stop.js';
import { update_hardware } from './update-hardware.js';

/**
 * Every action that runs as an operation, by name. Keyed by the state machine's actions: an
 * action in the table without an entry here does not compile.
 */
export const ACTIONS = {
  create,
  start,
  stop,
  force_stop,
  restart,
  reset,
  pause,
  resume,
  update_hardware,
  export: exportAction,
  delete: deleteAction,
} satisfies Record<OperationAction, ActionDefinition<z.ZodObject>>;

/**
 * The request side of the requestable actions alone (options, plan, route): what the API's
 * types are made of. Kept apart from the handlers so the API's published types (the SDK's) do
 * not reach into the worker's (database, streams).
 */
function requestsOf<T extends Record<string, { request?: Requestable }>>(actions: T) {
  return Object.fromEntries(
    Object.entries(actions)
      .filter(([, a]) => a.request !== undefined)
      .map(([name, a]) => [name, a.request]),
  ) as { [K in keyof T as T[K] extends { request: object } ? K : never]: T[K] extends { request: infer R } ? R : never };
}
export const ACTION_REQUESTS = requestsOf(ACTIONS);

/** The actions the generic API offers (those with a `request`). */
export type RequestableAction = keyof typeof ACTION_REQUESTS;

export const REQUESTABLE_ACTIONS = Object.keys(ACTION_REQUESTS) as RequestableAction[];

/** The options schema of a requestable action. */
export type ActionOptionsSchema<A extends RequestableAction> = (typeof ACTION_REQUESTS)[A]['options'];
export type ActionOptions<A extends RequestableAction> = z.input<ActionOptionsSchema<A>>;

/** Carries out one operation on the hypervisor, with its action's handler. */
export function perform(ctx: PerformContext): Promise<Outcome> {
  return ACTIONS[ctx.op.action as OperationAction].perform(ctx);
}
