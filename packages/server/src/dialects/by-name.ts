import { archiveRoutes } from './by-name/archives.js';
import { collectionRoutes } from './by-name/collection.js';
import { flaskErrors } from './by-name/errors.js';
import { vmRoutes } from './by-name/vm-routes.js';
import type { Dialect } from './dialect.js';

/**
 * The Flask + libvirt "Virtual Machine Management API": VMs addressed by name at /vms, created
 * from an ISO URL, listed with libvirt domain states, exported and imported as tar archives.
 */
export const byName: Dialect = {
  name: 'by-name',
  title: 'Virtual Machine Management API',
  description:
    'The earlier Flask + libvirt API, VMs addressed by name: create from an ISO (POST /vms with `iso_url`, answered 202 while it downloads and boots), modify, unmount the ISO, list with libvirt domain states, start, stop, delete, export and import as tar or tar.gz. Every request needs `Authorization: Bearer` (an API key or a token from POST /token). Errors are `{"error": "…"}` with 400 for a refused body or a VM in the wrong state, 404 for an unknown VM, 401/403 for credentials. Actions answer once done (202 with an `operation_id` if still running after 120 s). Hangar adds `uuid` and `status` to the answers; `id` is the VM\'s short number.',
  routes: [...collectionRoutes, ...vmRoutes, ...archiveRoutes],
  error: flaskErrors,
};
