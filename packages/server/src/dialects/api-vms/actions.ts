import { HangarError, type VmActionResult } from '@hangar/core';
import type { z } from 'zod';
import { toHangarError } from '../../errors/to-hangar-error.js';
import type { DialectRoute } from '../dialect.js';
import { WAIT } from '../operation-outcome.js';
import { operationAnswer } from './outcome.js';
import { caller, pathVm, readJson, readQuery } from './request.js';
import { apiVmsRoute, CHANGE_ERRORS } from './route.js';
import { NoQuery, OperationView, ResizeBody, RestartQuery } from './shapes.js';

interface PowerAction {
  /** The path's verb, also the answer's `operation`. */
  verb: string;
  /** What the message and `details.status` say was done. */
  past: string;
  /** The native procedure's action. */
  native: 'start' | 'stop' | 'force_stop' | 'restart' | 'reset';
  summary: string;
  query: z.ZodObject;
}

const POWER_ACTIONS: PowerAction[] = [
  { verb: 'start', past: 'started', native: 'start', summary: 'Start a VM', query: NoQuery },
  { verb: 'stop', past: 'stopped', native: 'stop', summary: 'Stop a VM gracefully (ACPI; forced off after 30 s)', query: NoQuery },
  { verb: 'force-stop', past: 'force-stopped', native: 'force_stop', summary: 'Force a VM off', query: NoQuery },
  { verb: 'restart', past: 'restarted', native: 'restart', summary: 'Restart a VM (force=true power-cycles it)', query: RestartQuery },
  { verb: 'reset', past: 'reset', native: 'reset', summary: 'Hard-reset a VM', query: NoQuery },
];

const OPERATION_ANSWERS = {
  200: { description: 'Done', schema: OperationView },
  202: { description: 'Still running after two minutes: status "pending"', schema: OperationView },
  ...CHANGE_ERRORS,
} as const;

/** POST /api/vms/{id}/<verb>: the native action, waited for. A VM already where the action leads is a success. */
const powerRoute = (a: PowerAction) =>
  apiVmsRoute(`vms.${a.native}`, {
    method: 'POST',
    path: `/api/vms/{vm_id}/${a.verb}`,
    summary: a.summary,
    query: a.query,
    responses: OPERATION_ANSWERS,
    handle: async (req) => {
      await caller(req, 'write');
      const options = readQuery(req, a.query);
      const vm = await pathVm(req);
      const result = await req.native.call<VmActionResult>(`vms.${a.native}`, { id: vm.id, ...options, ...WAIT });
      return operationAnswer(req.c, a, result);
    },
  });

/** POST /api/vms/{id}/resize: new CPU, memory or disk for a stopped VM. */
const resize = apiVmsRoute('vms.resize', {
  method: 'POST',
  path: '/api/vms/{vm_id}/resize',
  summary: 'Resize CPU, memory or disk (the VM must be stopped)',
  description: '`details` shows the resources the VM has afterwards. 400 "VM must be stopped before resizing" unless it is stopped.',
  body: ResizeBody,
  responses: OPERATION_ANSWERS,
  handle: async (req) => {
    await caller(req, 'write');
    const resources = await readJson(req, ResizeBody);
    const vm = await pathVm(req);
    const result = await req.native.call<VmActionResult>('vms.resize', { id: vm.id, ...resources, ...WAIT }).catch((err: unknown) => {
      const e = toHangarError(err);
      // The earlier API's words for it; the native state and allowed actions ride along.
      if (e.code === 'INVALID_STATE') throw new HangarError('INVALID_STATE', 'VM must be stopped before resizing', e.details);
      throw err;
    });
    const { cpu_cores, memory_mb, disk_gb } = result.vm;
    return operationAnswer(req.c, { verb: 'resize', past: 'resized' }, result, { cpu_cores, memory_mb, disk_gb });
  },
});

export const actionRoutes: DialectRoute[] = [...POWER_ACTIONS.map(powerRoute), resize];
