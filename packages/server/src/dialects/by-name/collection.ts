import { randomBytes } from 'node:crypto';
import { CreateVmInput, errors, Vm, type VmActionResult, type VmPage } from '@hangar/core';
import { z } from 'zod';
import { toHangarError } from '../../errors/to-hangar-error.js';
import { CREATE_VM_ALIASES, foldBodyAliases } from '../../http/body-aliases.js';
import { readBody } from '../../http/read-body.js';
import type { DialectRoute } from '../dialect.js';
import type { NativeCalls } from '../native-calls.js';
import { DOMAIN_STATE, domainState } from './domain-state.js';
import { FlaskError } from './errors.js';

/** The earlier API's create body: its names for the native fields, with the same defaults. */
export const CreateBody = z.strictObject({
  name: CreateVmInput.shape.name.optional().meta({ description: 'Generated (`vm-` and 8 hex digits) when absent' }),
  iso_url: CreateVmInput.shape.iso_url.unwrap().meta({ description: 'The ISO to boot from, downloaded in the background' }),
  disk_size_gb: CreateVmInput.shape.disk_gb,
  memory_mb: CreateVmInput.shape.memory_mb,
  vcpu_count: CreateVmInput.shape.cpu_cores,
});

/**
 * Whose a POST /vms body is: this API's when it has `iso_url`, or its own `disk_size_gb` or
 * `vcpu_count` without any field of the other APIs on /vms (its client forgot `iso_url`, and
 * hears why). Any other body is for the next dialect on /vms, which takes those two names as
 * aliases too.
 */
const OTHER_APIS_FIELDS = ['cpu_cores', 'memory', 'disk_size', 'disk_gb', 'public_ip', 'labels'];
const isOwnBody = (body: Record<string, unknown>) =>
  Object.hasOwn(body, 'iso_url') ||
  (['disk_size_gb', 'vcpu_count'].some((f) => Object.hasOwn(body, f)) && !OTHER_APIS_FIELDS.some((f) => Object.hasOwn(body, f)));

const Created = z.object({
  message: z.literal('VM creation started'),
  name: Vm.shape.name,
  id: Vm.shape.number,
  uuid: Vm.shape.id,
});

const Listed = z.object({
  id: Vm.shape.number.meta({ description: "The VM's short number" }),
  name: Vm.shape.name,
  state: z
    .int()
    .min(DOMAIN_STATE.nostate)
    .max(DOMAIN_STATE.pmsuspended)
    .meta({ description: 'libvirt virDomainState: 0 nostate, 1 running, 3 paused, 4 shutdown (stopping), 5 shutoff, 6 crashed' }),
  uuid: Vm.shape.id,
  status: Vm.shape.status,
});

/** Tries for a free generated name; ten collisions in a row mean something else is wrong. */
const NAME_TRIES = 10;
const generatedName = () => `vm-${randomBytes(4).toString('hex')}`;

/** How many VMs GET /vms lists at most (the newest), so one request stays bounded. */
const MAX_LISTED = 10_000;

async function create(native: NativeCalls, spec: Record<string, unknown>, named: boolean): Promise<VmActionResult> {
  for (let attempt = 1; ; attempt++) {
    const name = named ? spec.name : generatedName();
    try {
      return await native.call<VmActionResult>('vms.create', { ...spec, name, start: true });
    } catch (err) {
      if (named || toHangarError(err).code !== 'NAME_TAKEN' || attempt >= NAME_TRIES) throw err;
    }
  }
}

export const collectionRoutes: DialectRoute[] = [
  {
    method: 'POST',
    path: '/vms',
    summary: 'Create a VM from an ISO and boot it',
    description:
      "Answers 202 at once; the ISO is downloaded, the VM defined and started in the background. A download that fails puts the VM in status `error` (state 6) with the reason in its `last_error` (GET /api/v1/vms/{uuid}). A body without `iso_url` is this API's only when it has `disk_size_gb` or `vcpu_count` and no field of the other APIs on /vms (`cpu_cores`, `memory`, `disk_size`…); any other is theirs.",
    body: CreateBody,
    responses: {
      202: { description: 'VM creation started', schema: Created },
      400: { description: 'Invalid body', schema: FlaskError },
      401: { description: 'No or bad credentials', schema: FlaskError },
      409: { description: 'A VM has this name', schema: FlaskError },
    },
    handle: async ({ c, native }) => {
      const body = await readBody(c).catch(() => undefined);
      if (!body || !isOwnBody(body)) return undefined;
      // Who asks comes before what is wrong with the body, as on the native routes.
      await native.call('auth.whoami');
      const parsed = CreateBody.safeParse(body);
      if (!parsed.success) throw errors.fromZod(parsed.error, 'VM');
      const spec = foldBodyAliases(parsed.data, CREATE_VM_ALIASES, CreateVmInput);
      const { vm } = await create(native, spec, parsed.data.name !== undefined);
      return c.json({ message: 'VM creation started', name: vm.name, id: vm.number, uuid: vm.id }, 202);
    },
  },
  {
    method: 'GET',
    path: '/vms',
    summary: 'List VMs with their numbers, names and libvirt states',
    description: `Every live VM of the caller's project (at most the newest ${MAX_LISTED}; \`x-total-count\` says how many there are), by number. \`uuid\` and \`status\` are Hangar's additions.`,
    responses: {
      200: { description: 'The VMs', schema: z.array(Listed) },
      401: { description: 'No or bad credentials', schema: FlaskError },
    },
    handle: async ({ c, native }) => {
      const vms: Vm[] = [];
      let total = 0;
      let cursor: string | undefined;
      do {
        const page = await native.call<VmPage>('vms.list', { per_page: 100, ...(cursor ? { cursor } : {}) });
        vms.push(...page.vms);
        total ||= page.total;
        cursor = page.next_cursor ?? undefined;
      } while (cursor && vms.length < MAX_LISTED);
      const listed = vms
        .slice(0, MAX_LISTED)
        .sort((a, b) => a.number - b.number)
        .map((vm) => ({ id: vm.number, name: vm.name, state: domainState(vm.status), uuid: vm.id, status: vm.status }));
      return c.json(listed, 200, { 'x-total-count': String(Math.max(total, listed.length)) });
    },
  },
];
