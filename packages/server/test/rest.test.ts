import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';
import { defineRestSuite } from './rest-suite.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

defineRestSuite({ base: () => `${server.url}/api/v1`, server: () => server, direct: true });

describe('REST and tRPC are the same API', () => {
  async function trpc(path: string, input?: unknown) {
    const url = new URL(`${server.url}/trpc/${path}`);
    if (input !== undefined) url.searchParams.set('input', JSON.stringify(input));
    const res = await fetch(url, { headers: { authorization: `Bearer ${server.apiKey}` } });
    return ((await res.json()) as { result: { data: unknown } }).result.data;
  }

  async function rest(path: string) {
    const res = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
    return { body: (await res.json()) as any };
  }
  async function post(path: string, body: unknown) {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { body: (await res.json()) as any };
  }

  it('answers the same for the same call, in every family', async () => {
    const vm = (await post('/vms?wait=true', { name: 'twin', cpu_cores: 1, memory_mb: 256, disk_gb: 1, labels: { twin: 'yes' } })).body.vm;
    const opId = (await rest(`/operations?vm_id=${vm.id}`)).body.operations[0].id;
    const pairs: [string, unknown, string][] = [
      ['vms.get', { id: vm.id }, `/vms/${vm.id}`],
      ['vms.list', { label: ['twin=yes'], per_page: 5 }, '/vms?label=twin%3Dyes&per_page=5'],
      ['vms.events', { id: vm.id }, `/vms/${vm.id}/events`],
      ['vms.get_config', { id: vm.id }, `/vms/${vm.id}/config`],
      ['operations.get', { id: opId }, `/operations/${opId}`],
      ['operations.list', { vm_id: vm.id }, `/operations?vm_id=${vm.id}`],
      ['auth.whoami', undefined, '/whoami'],
      ['api_keys.list', undefined, '/api-keys'],
      ['users.list', undefined, '/users'],
      ['projects.list', undefined, '/projects'],
    ];
    for (const [procedure, input, path] of pairs) {
      expect((await rest(path)).body, procedure).toEqual(await trpc(procedure, input));
    }
  });
});
