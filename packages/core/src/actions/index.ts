export type { ActionDefinition, ActionPlan, Outcome, PerformContext, Requestable } from './action.js';
export { DeleteOptions } from './delete.js';
export {
  ACTION_REQUESTS,
  ACTIONS,
  type ActionOptions,
  type ActionOptionsSchema,
  perform,
  REQUESTABLE_ACTIONS,
  type RequestableAction,
} from './registry.js';
export { RestartOptions } from './restart.js';
export { StopOptions } from './stop.js';
