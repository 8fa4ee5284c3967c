import type { DialectRequest, DialectRoute } from '../dialect.js';
import { ErrorView } from './shapes.js';

const error = (description: string) => ({ description, schema: ErrorView });

/** The refusals every route of the API can answer. */
export const CALLER_ERRORS = {
  401: error('Could not validate credentials'),
  403: error('Not enough permissions (reads need a viewer, changes an operator)'),
  422: error('A refused query parameter or body field, as FastAPI lists them'),
} as const;

/** …and those of a route that names a VM. */
export const VM_ERRORS = { ...CALLER_ERRORS, 404: error('VM with ID <id> not found') } as const;

/** …and those of a change: a state that does not allow it, and an operation that failed. */
export const CHANGE_ERRORS = {
  ...VM_ERRORS,
  400: error('The VM is not in a state that allows it (or another operation is in flight)'),
  500: error('Failed to <verb> VM: <reason> (the operation failed)'),
} as const;

/**
 * A route of the API, counted in the metrics and the request log under the native procedure it
 * stands for (it calls others on the way: who the caller is, the VM by number, the hosts).
 */
export function apiVmsRoute(
  procedure: string,
  route: Omit<DialectRoute, 'handle'> & { handle: (req: DialectRequest) => Promise<Response> },
): DialectRoute {
  return {
    ...route,
    handle: async (req) => {
      try {
        return await route.handle(req);
      } finally {
        req.c.get('info').procedure = procedure;
      }
    },
  };
}
