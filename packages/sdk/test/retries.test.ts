import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConflictError, ConnectionError, ServerError, TimeoutError } from '../src/index.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const small = { cpu_cores: 1, memory_mb: 128, disk_gb: 1 };

/** A fetch that misbehaves on chosen calls, and counts what it was asked. */
function flakyFetch(plan: (n: number, url: string) => 'ok' | 'drop-after-send' | 'refuse' | '503' | '503-final') {
  const calls: string[] = [];
  const f: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    calls.push(url);
    const what = plan(calls.length, url);
    if (what === 'refuse') throw new TypeError('fetch failed: connect ECONNREFUSED');
    if (what === '503') return new Response('upstream unavailable', { status: 503 });
    if (what === '503-final') {
      // Hangar's own 503 saying that repeating the request cannot help.
      const error = {
        error: {
          message: 'the host is gone for good',
          code: -32603,
          data: { code: 'HOST_UNAVAILABLE', httpStatus: 503, should_retry: false },
        },
      };
      const batched = new URL(url).searchParams.has('batch');
      return new Response(JSON.stringify(batched ? [error] : error), { status: 503, headers: { 'content-type': 'application/json' } });
    }
    const res = await fetch(input, init);
    if (what === 'drop-after-send') {
      await res.arrayBuffer();
      throw new TypeError('fetch failed: socket hang up');
    }
    return res;
  };
  return { fetch: f, calls };
}

describe('retries', () => {
  it('retries a create whose answer was lost, and the idempotency key makes one VM', async () => {
    const flaky = flakyFetch((n) => (n === 1 ? 'drop-after-send' : 'ok'));
    const client = new Client({ base_url: server.url, api_key: server.apiKey, fetch: flaky.fetch });
    const r = await client.createVm({ name: 'lost-answer', ...small });
    expect(flaky.calls).toHaveLength(2);
    const all = await client.listVms({ search: 'lost-answer' }).toArray();
    expect(all).toHaveLength(1);
    expect(all[0]!.id).toBe(r.vm.id);
  });

  it('retries on 503 and on refused connections, up to max_retries', async () => {
    const flaky = flakyFetch((n) => (n === 1 ? '503' : n === 2 ? 'refuse' : 'ok'));
    const client = new Client({ base_url: server.url, api_key: server.apiKey, fetch: flaky.fetch });
    expect((await client.listVms().page()).vms).toBeDefined();
    expect(flaky.calls).toHaveLength(3);

    const down = flakyFetch(() => 'refuse');
    const gone = new Client({ base_url: server.url, api_key: server.apiKey, fetch: down.fetch, max_retries: 1 });
    const lost = await gone.getVm('00000000-0000-4000-8000-000000000000').catch((err: unknown) => err);
    expect(lost).toBeInstanceOf(ConnectionError);
    // It names where it tried: a client on the default URL while the server is elsewhere sees it.
    expect((lost as Error).message).toContain(`Cannot reach the Hangar server at ${server.url}: `);
    expect(down.calls).toHaveLength(2);

    const failing = flakyFetch(() => '503');
    const sick = new Client({ base_url: server.url, api_key: server.apiKey, fetch: failing.fetch, max_retries: 2 });
    await expect(sick.listVms().page()).rejects.toBeInstanceOf(ServerError);
    expect(failing.calls).toHaveLength(3);
  });

  it('obeys the server’s retry hint before its own policy', async () => {
    const final = flakyFetch(() => '503-final');
    const client = new Client({ base_url: server.url, api_key: server.apiKey, fetch: final.fetch, max_retries: 3 });
    const err = await client.getVm('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect(err).toMatchObject({ code: 'HOST_UNAVAILABLE', shouldRetry: false });
    expect(final.calls).toHaveLength(1);
  });

  it('sends uploads the calls’ way: a file is sent again after a 503, a stream (read once) is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-sdk-upload-'));
    try {
      const file = join(dir, 'tools.iso');
      await writeFile(file, randomBytes(16 * 1024));
      const once503 = flakyFetch((n) => (n === 1 ? '503' : 'ok'));
      const client = new Client({ base_url: server.url, api_key: server.apiKey, fetch: once503.fetch });
      expect(await client.uploadImage(file, { name: 'retried.iso' })).toMatchObject({ status: 'ready' });
      expect(once503.calls).toHaveLength(2);
      expect(once503.calls[1]).toContain('/api/v1/images/upload?name=retried.iso');

      const again503 = flakyFetch((n) => (n === 1 ? '503' : 'ok'));
      const streaming = new Client({ base_url: server.url, api_key: server.apiKey, fetch: again503.fetch });
      await expect(streaming.uploadImage(createReadStream(file), { name: 'streamed.iso' })).rejects.toBeInstanceOf(ServerError);
      expect(again503.calls).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not retry what cannot succeed', async () => {
    const flaky = flakyFetch(() => 'ok');
    const client = new Client({ base_url: server.url, api_key: server.apiKey, fetch: flaky.fetch });
    const { vm } = await client.createVm({ name: 'no-retry', ...small }, { wait: true });
    const before = flaky.calls.length;
    await expect(client.pauseVm(vm.id)).rejects.toBeInstanceOf(ConflictError);
    expect(flaky.calls.length - before).toBe(1);
  });

  it('gives up a call at its timeout, and honours a caller’s abort', async () => {
    server.driver.hypervisor.setLatency(0);
    const client = new Client({ base_url: server.url, api_key: server.apiKey });
    const { vm } = await client.createVm({ name: 'slow-wait', ...small }, { wait: true });
    await expect(
      client.trpc.vms.wait.query({ id: vm.id, status: 'running', timeout_ms: 5_000 }, { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow();
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('caller gave up')), 50);
    await expect(client.waitForVm(vm.id, 'running', { timeout_ms: 5_000, signal: ctl.signal })).rejects.toThrow('caller gave up');
    const quick = new Client({ base_url: server.url, api_key: server.apiKey, timeout_ms: 50, max_retries: 0 });
    server.driver.hypervisor.setLatency(500);
    try {
      await expect(quick.startVm(vm.id, { wait: false, timeout_ms: 1 })).rejects.toBeInstanceOf(TimeoutError);
    } finally {
      server.driver.hypervisor.setLatency(0);
    }
  });
});
