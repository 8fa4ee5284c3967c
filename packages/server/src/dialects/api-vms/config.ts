import type { VmActionResult, VmConfig } from '@hangar/core';
import type { DialectRoute } from '../dialect.js';
import { outcomeOf, WAIT } from '../operation-outcome.js';
import { failed } from './outcome.js';
import { configView } from './present.js';
import { caller, inDialectNames, pathVm, readJson, readQuery } from './request.js';
import { apiVmsRoute, CHANGE_ERRORS, VM_ERRORS } from './route.js';
import { ConfigBody, ConfigView, NoQuery } from './shapes.js';

const PATH = '/api/vms/{vm_id}/config';

/** GET /api/vms/{id}/config: the hardware configuration, with the domain XML where the host keeps one. */
const get = apiVmsRoute('vms.get_config', {
  method: 'GET',
  path: PATH,
  summary: "A VM's configuration",
  responses: { 200: { description: 'The configuration', schema: ConfigView }, ...VM_ERRORS },
  handle: async (req) => {
    await caller(req, 'read');
    readQuery(req, NoQuery);
    const vm = await pathVm(req);
    return req.c.json(configView(vm, await req.native.call<VmConfig>('vms.get_config', { id: vm.id })));
  },
});

/** PUT /api/vms/{id}/config: hardware changes of a stopped VM, waited for; answers the configuration it then has. */
const put = apiVmsRoute('vms.configure', {
  method: 'PUT',
  path: PATH,
  summary: "Change a VM's configuration (the VM must be stopped)",
  body: ConfigBody,
  responses: {
    200: { description: 'The configuration now', schema: ConfigView },
    202: { description: 'The change still runs: the configuration as it stands', schema: ConfigView },
    ...CHANGE_ERRORS,
  },
  handle: async (req) => {
    await caller(req, 'write');
    const { network_config, ...hardware } = await readJson(req, ConfigBody);
    const vm = await pathVm(req);
    const result = await inDialectNames(
      req.native.call<VmActionResult>('vms.configure', {
        id: vm.id,
        ...hardware,
        ...(network_config ? { network: network_config } : {}),
        ...WAIT,
      }),
    );
    const outcome = outcomeOf(result);
    if (outcome.kind === 'failed') return failed(req.c, 'configure', outcome);
    const config = await req.native.call<VmConfig>('vms.get_config', { id: vm.id });
    return req.c.json(configView(vm, config), outcome.kind === 'pending' ? 202 : 200);
  },
});

export const configRoutes: DialectRoute[] = [get, put];
