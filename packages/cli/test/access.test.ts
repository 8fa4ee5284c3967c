import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveFiles } from '@hangar/core/testing';
import type { ApiKey, CreatedApiKey, Host, Image } from '@hangar/sdk';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hgr, hgrJson, hgrOnTerminal, tempConfigHome } from './hgr.js';

let server: TestServer;
let files: Awaited<ReturnType<typeof serveFiles>>;
let env: Record<string, string>;
let work: string;
beforeAll(async () => {
  files = await serveFiles({ '/tiny.iso': { body: Buffer.alloc(256, 7), trickle_ms: 2 } });
  // The files are on loopback, which image URLs may reach only when allowed.
  server = await startTestServer({ env: { HANGAR_IMAGE_ALLOW_HOSTS: '127.0.0.1' } });
  env = { HANGAR_URL: server.url, HANGAR_API_KEY: server.apiKey, XDG_CONFIG_HOME: await tempConfigHome() };
  work = await mkdtemp(join(tmpdir(), 'hgr-access-'));
});
afterAll(async () => {
  await server?.stop();
  await files?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('hgr login', () => {
  it('checks the key, saves it 0600 in a 0700 directory, and later commands use it', async () => {
    const home = await tempConfigHome();
    const r = await hgr(['login', '--url', server.url, '--api-key', server.apiKey], { env: { XDG_CONFIG_HOME: home } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('as admin');
    const path = join(home, 'hangar', 'config.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'hangar'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ url: server.url, api_key: server.apiKey });

    // No flags, no environment: the saved URL and key.
    expect((await hgr(['host', 'ls'], { env: { XDG_CONFIG_HOME: home } })).code).toBe(0);
    // The environment wins over the saved key (a wrong one: exit 4).
    const overridden = await hgr(['host', 'ls'], { env: { XDG_CONFIG_HOME: home, HANGAR_API_KEY: 'hgr_wrong_key_0123456789abcdef' } });
    expect(overridden.code).toBe(4);
    // And a flag wins over the environment.
    const flagged = await hgr(['host', 'ls', '--api-key', server.apiKey], { env: { XDG_CONFIG_HOME: home, HANGAR_API_KEY: 'hgr_wrong' } });
    expect(flagged.code).toBe(0);
  });

  it('refuses a wrong key with exit 4 and saves nothing', async () => {
    const home = await tempConfigHome();
    const r = await hgr(['login', '--url', server.url, '--api-key', 'hgr_wrong_key_0123456789abcdef'], { env: { XDG_CONFIG_HOME: home } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('UNAUTHENTICATED');
    await expect(stat(join(home, 'hangar', 'config.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads the key from stdin, and without a key or a terminal is a usage error', async () => {
    const home = await tempConfigHome();
    const r = await hgr(['login', '--url', server.url, '--api-key-stdin', '--json'], {
      env: { XDG_CONFIG_HOME: home },
      input: `${server.apiKey}\n`,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ url: server.url, principal: { username: 'admin' } });

    const none = await hgr(['login', '--url', server.url], { env: { XDG_CONFIG_HOME: await tempConfigHome() } });
    expect(none.code).toBe(2);
  });

  it('exits 4 with no credentials anywhere', async () => {
    const r = await hgr(['vm', 'ls'], { env: { HANGAR_URL: server.url, XDG_CONFIG_HOME: await tempConfigHome() } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('hgr login');
  });
});

describe('hgr key', () => {
  it('creates a key (shown once), lists it, revokes it; the revoked key then exits 4', async () => {
    const created = await hgrJson<CreatedApiKey>(['key', 'create', 'ci', '--role', 'viewer'], { env });
    expect(created.key).toMatch(/^hgr_/);
    expect(created.api_key).toMatchObject({ name: 'ci', role: 'viewer' });

    const keyEnv = { ...env, HANGAR_API_KEY: created.key };
    expect((await hgr(['vm', 'ls'], { env: keyEnv })).code).toBe(0);
    // A viewer may not create VMs: forbidden is exit 4 too.
    expect((await hgr(['vm', 'create', 'nope'], { env: keyEnv })).code).toBe(4);

    const keys = await hgrJson<ApiKey[]>(['key', 'ls'], { env });
    expect(keys.find((k) => k.id === created.api_key.id)).toMatchObject({ name: 'ci', revoked_at: null });
    const table = await hgr(['key', 'ls'], { env });
    expect(table.stdout).toMatch(/ID\s+NAME\s+PREFIX\s+ROLE/);

    // Without --json the secret goes alone to stdout (for `$(hgr key create …)`), the rest to stderr.
    const plain = await hgr(['key', 'create', 'plain'], { env });
    expect(plain.stdout.trim()).toMatch(/^hgr_\S+$/);
    expect(plain.stderr).toContain('not shown again');

    expect((await hgr(['key', 'revoke', created.api_key.id], { env })).code).toBe(0);
    expect((await hgr(['vm', 'ls'], { env: keyEnv })).code).toBe(4);
    expect((await hgr(['key', 'revoke', '00000000-0000-4000-8000-000000000000'], { env })).code).toBe(3);
  });
});

describe('hgr host', () => {
  it('lists the hosts', async () => {
    const hosts = await hgrJson<Host[]>(['host', 'ls'], { env });
    expect(hosts.length).toBeGreaterThanOrEqual(1);
    expect(hosts[0]).toMatchObject({ status: 'online' });
    const table = await hgr(['host', 'ls'], { env });
    expect(table.stdout).toMatch(/^ID\s+NAME\s+DRIVER\s+STATUS/);
    expect(table.stdout).toContain(hosts[0]!.name);
  });
});

describe('hgr image', () => {
  it('adds an image by URL with --wait, lists it, removes it', async () => {
    const added = await hgrJson<Image>(['image', 'add', `${files.url}/tiny.iso`, '--wait'], { env });
    expect(added).toMatchObject({ name: 'tiny.iso', kind: 'iso', status: 'ready', size_bytes: 256 });
    const listed = await hgrJson<Image[]>(['image', 'ls'], { env });
    expect(listed.map((i) => i.id)).toContain(added.id);
    expect((await hgr(['image', 'ls'], { env })).stdout).toMatch(new RegExp(`${added.id}\\s+tiny.iso\\s+iso`));

    expect((await hgr(['image', 'rm', added.id], { env })).code).toBe(0);
    expect((await hgrJson<Image[]>(['image', 'ls'], { env })).map((i) => i.id)).not.toContain(added.id);
    expect((await hgr(['image', 'get', added.id], { env })).code).toBe(3);
  });

  it('a download that fails exits 6 under --wait', async () => {
    const r = await hgr(['image', 'add', `${files.url}/missing.iso`, '--wait'], { env });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('IMAGE_FAILED');
  });

  it('uploads a file', async () => {
    const file = join(work, 'disk.raw');
    await writeFile(file, Buffer.alloc(8192, 3));
    const uploaded = await hgrJson<Image>(['image', 'upload', file, '--kind', 'disk'], { env });
    expect(uploaded).toMatchObject({ name: 'disk.raw', kind: 'disk', status: 'ready', size_bytes: 8192 });
    expect((await hgr(['image', 'rm', uploaded.id], { env })).code).toBe(0);

    // On a terminal, a bar with the bytes and the rate.
    const shown = await hgrOnTerminal(['image', 'upload', file, '--name', 'again.raw', '--kind', 'disk'], env);
    expect(shown).toMatch(/upload again\.raw \[[█░]+\] 100% \| 8\.0 KiB of 8\.0 KiB \| [0-9.]+ \S+\/s/);
  });
});
