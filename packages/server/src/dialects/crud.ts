import { CreateVmInput, UpdateVmFields, Vm, VmPage } from '@hangar/core';
import type { z } from 'zod';
import { CREATE_VM_ALIASES, UPDATE_VM_ALIASES } from '../http/body-aliases.js';
import type { Dialect, DialectRoute } from './dialect.js';
import { fastApiErrors } from './fastapi-errors.js';

/**
 * The CRUD API at `/api/v1/vms` (POST, GET list and one, PUT/PATCH, DELETE): its paths are the
 * native API's own, which already answers them, so this dialect serves no route. It documents
 * that subset with the older field names the native routes take as aliases.
 */
const served = (): never => {
  throw new Error('served by the native API');
};

const withAliases = (schema: z.ZodObject, aliases: Readonly<Record<string, string>>) =>
  schema.extend(
    Object.fromEntries(
      Object.entries(aliases)
        .filter(([, field]) => schema.shape[field])
        .map(([alias, field]) => [
          alias,
          (schema.shape[field] as z.ZodType).optional().meta({ deprecated: true, description: `Alias of ${field}` }),
        ]),
    ),
  );

const routes: DialectRoute[] = [
  {
    method: 'POST',
    path: '/api/v1/vms',
    summary: 'Create a VM',
    body: withAliases(CreateVmInput, CREATE_VM_ALIASES),
    responses: { 201: { description: 'Created: the VM and its create operation' }, 400: { description: 'Invalid input' } },
    handle: served,
  },
  {
    method: 'GET',
    path: '/api/v1/vms',
    summary: 'List VMs',
    responses: { 200: { description: 'A page of VMs', schema: VmPage } },
    handle: served,
  },
  {
    method: 'GET',
    path: '/api/v1/vms/{id}',
    summary: 'Get a VM',
    responses: { 200: { description: 'The VM', schema: Vm }, 404: { description: 'Not found' } },
    handle: served,
  },
  ...(['PUT', 'PATCH'] as const).map(
    (method): DialectRoute => ({
      method,
      path: '/api/v1/vms/{id}',
      summary: 'Change a VM',
      body: withAliases(UpdateVmFields, UPDATE_VM_ALIASES),
      responses: {
        200: { description: 'Changed' },
        202: { description: 'A hardware change runs as an operation' },
        409: { description: 'Not in this state' },
      },
      handle: served,
    }),
  ),
  {
    method: 'DELETE',
    path: '/api/v1/vms/{id}',
    summary: 'Delete a VM',
    responses: { 202: { description: 'The delete runs as an operation' }, 404: { description: 'Not found' } },
    handle: served,
  },
];

export const crud: Dialect = {
  name: 'crud',
  title: 'VirtualMachine CRUD API',
  description:
    'Create, list, get, update (PUT or PATCH) and delete VMs at /api/v1/vms. These are the native routes: every field of the native API works, and the older names (memory, disk_size, disk_size_gb, vcpu_count, network_config, server_id, new_name) are taken as deprecated aliases. Errors are `{"detail": …}` with the native status codes (201, 400, 404, 409, 500).',
  native_paths: true,
  routes,
  error: fastApiErrors,
};
