import type { VmActionResult, VmPage } from '@hangar/core';
import type { DialectRoute } from '../dialect.js';
import { outcomeOf, WAIT } from '../operation-outcome.js';
import { failed } from './outcome.js';
import { visibleHosts, vmView } from './present.js';
import { caller, inDialectNames, readJson, readQuery } from './request.js';
import { apiVmsRoute, CALLER_ERRORS, CHANGE_ERRORS } from './route.js';
import { CreateBody, ListQuery, VmListView, VmView } from './shapes.js';

/** GET /api/vms: a page of the caller's VMs, filtered as `vms.list` filters. */
const list = apiVmsRoute('vms.list', {
  method: 'GET',
  path: '/api/vms',
  summary: 'List VMs',
  query: ListQuery,
  responses: { 200: { description: 'A page of VMs', schema: VmListView }, ...CALLER_ERRORS },
  handle: async (req) => {
    const principal = await caller(req, 'read');
    const q = readQuery(req, ListQuery);
    const page = await req.native.call<VmPage>('vms.list', {
      page: q.page,
      per_page: q.per_page,
      status: q.status,
      host_id: q.server_id === undefined ? undefined : String(q.server_id),
      os_type: q.os_type,
      search: q.search,
    });
    const hosts = await visibleHosts(req.native, principal);
    return req.c.json({
      vms: page.vms.map((vm) => vmView(vm, hosts)),
      total: page.total,
      page: page.page ?? q.page,
      per_page: page.per_page,
      total_pages: page.total_pages,
    });
  },
});

/** POST /api/vms: creates the VM and answers once it is provisioned (stopped), as the earlier API did. */
const create = apiVmsRoute('vms.create', {
  method: 'POST',
  path: '/api/vms',
  summary: 'Create a VM',
  description:
    'Answers 201 with the VM once it is provisioned (stopped), 202 if provisioning still runs after two minutes. `server_id` (a host number) is for global admins: 403 for anyone else.',
  body: CreateBody,
  responses: {
    201: { description: 'Created', schema: VmView },
    202: { description: 'Still provisioning', schema: VmView },
    400: CHANGE_ERRORS[400],
    500: CHANGE_ERRORS[500],
    ...CALLER_ERRORS,
  },
  handle: async (req) => {
    const principal = await caller(req, 'write');
    const { server_id, network_config, ...spec } = await readJson(req, CreateBody);
    const result = await inDialectNames(
      req.native.call<VmActionResult>('vms.create', {
        ...spec,
        ...(server_id != null ? { host_id: String(server_id) } : {}),
        ...(network_config ? { network: network_config } : {}),
        ...WAIT,
      }),
    );
    const outcome = outcomeOf(result);
    if (outcome.kind === 'failed') return failed(req.c, 'create', outcome);
    const hosts = await visibleHosts(req.native, principal);
    return req.c.json(vmView(result.vm, hosts), outcome.kind === 'pending' ? 202 : 201);
  },
});

export const collectionRoutes: DialectRoute[] = [list, create];
