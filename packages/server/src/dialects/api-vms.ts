import { actionRoutes } from './api-vms/actions.js';
import { collectionRoutes } from './api-vms/collection.js';
import { configRoutes } from './api-vms/config.js';
import { apiVmsErrors } from './api-vms/errors.js';
import { oneVmRoutes } from './api-vms/one-vm.js';
import type { Dialect } from './dialect.js';

/**
 * The VM lifecycle API at /api/vms: integer VM ids (the VM's number), grouped `resources` and
 * `network`, actions that answer once done, FastAPI's `{"detail": …}` errors.
 */
export const apiVms: Dialect = {
  name: 'api-vms',
  title: 'VM Lifecycle API Endpoints',
  description: [
    "The earlier VM lifecycle API at /api/vms, translated onto Hangar's own procedures: same credentials (API keys, or tokens from POST /token), same state machine, same operations.",
    "A VM's `id` is its number in the project (`uuid` is Hangar's id); paths take the number, the uuid or the name. Statuses are Hangar's (running, stopped, paused, provisioning, error…).",
    "`server` shows the VM's host (its number and name) to global admins; for anyone else both are null, as hosts are fleet infrastructure. `server_id` in a create is for global admins.",
    'Create, update, delete, the power actions, configuration changes and resize answer once their operation has finished (up to two minutes; 202 while it still runs, with the operation id to follow at /api/v1/operations/{id}). A failed operation is a 500 `Failed to <verb> VM: <reason>`.',
    'Errors are `{"detail": …}`: 400 for a state that does not allow the change, 401 `Could not validate credentials`, 403 `Not enough permissions`, 404 `VM with ID <id> not found`, 422 for refused input (unknown fields and parameters included), 503 while the host is unavailable.',
    "Deleting keeps the disks unless `delete_disks=true`; `detail` names the deleted disk files where the VM's host keeps a domain XML this server reads (libvirt).",
  ].join('\n\n'),
  routes: [...collectionRoutes, ...oneVmRoutes, ...actionRoutes, ...configRoutes],
  error: apiVmsErrors,
};
