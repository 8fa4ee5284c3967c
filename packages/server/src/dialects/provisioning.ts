import { TokenRequest, TokenResponse } from '@hangar/core';
import { readBody } from '../http/read-body.js';
import type { Dialect, DialectRoute } from './dialect.js';
import { fastApiErrors } from './fastapi-errors.js';
import { createFlatVmRoute, deleteFlatVmRoute } from './flat-vm.js';

const routes: DialectRoute[] = [
  {
    method: 'POST',
    path: '/token',
    summary: 'Exchange a username and password for an access token (OAuth2 password grant)',
    description: 'The native sign-in: a form (or JSON) with `username` and `password`; the token is a bearer token for every route.',
    body: TokenRequest,
    body_type: 'application/x-www-form-urlencoded',
    public: true,
    responses: {
      200: { description: 'The access token', schema: TokenResponse },
      401: { description: 'Wrong username or password' },
      422: { description: 'A field missing or malformed' },
    },
    handle: async ({ c, native }) => c.json(await native.call('auth.token', await readBody(c))),
  },
  createFlatVmRoute,
  deleteFlatVmRoute,
];

export const provisioning: Dialect = {
  name: 'provisioning',
  title: 'VM provisioning API (architect-techtest)',
  description:
    'Sign in at POST /token (form: username, password), then create VMs at POST /vms and delete them at DELETE /vms/{vm_id} with `Authorization: Bearer <token>`; an API key works as the bearer token too, so a script that had its key in the environment can keep it there. A VM is `{id, number, name, cpu_cores, memory, disk_size, public_ip, labels, status, created_at, updated_at}`; create answers once the VM is provisioned (`status: "created"`), delete once it is gone (`status: "deleted"`), each with 202 and the native status if its operation still runs after two minutes. The token answer adds `expires_in`. Errors are FastAPI\'s `{"detail": …}`: 422 for an invalid body, 401 without a valid token, 404 for an unknown VM.',
  routes,
  error: fastApiErrors,
};
