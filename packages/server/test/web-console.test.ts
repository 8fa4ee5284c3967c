import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Database, simGpus } from '@hangar/core';
import { createTestDatabase, qemuProcessesUnder, qemuSkipReason, testGuest } from '@hangar/core/testing';
import { Hono } from 'hono';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountWebConsole } from '../src/http/web-console.js';
import { type QemuTestServer, startQemuTestServer, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../src/testing.js';
import { browserTestRuns, launchChromium } from './chromium.js';

/**
 * The web console (packages/web) in a real browser against a real server: sign-in, the live VM
 * list, the VM page's actions and forms, roles and projects. Screenshots of each page go to
 * packages/server/test-artifacts/web/.
 */

const haveChromium = browserTestRuns('web console test');

interface VmLike {
  id: string;
  name: string;
  status: string;
  labels: Record<string, string>;
  allowed_actions: string[];
}
type Wait = { wait?: boolean };
/** What these tests use of the SDK's Client (the console's own client, so its errors read as the console shows them). */
interface SdkClient {
  authenticate(): Promise<unknown>;
  getVm(id: string): Promise<VmLike>;
  createVm(spec: Record<string, unknown>, opts?: Wait): Promise<{ vm: VmLike }>;
  stopVm(id: string, opts?: Wait): Promise<unknown>;
  pauseVm(id: string): Promise<unknown>;
  resizeVm(id: string, size: { disk_gb?: number }): Promise<unknown>;
  waitForVm(id: string, status: string): Promise<VmLike>;
  consoleTicket(id: string): Promise<{ path: string }>;
  createUser(input: Record<string, unknown>): Promise<unknown>;
  createProject(name: string): Promise<{ id: string }>;
  createApiKey(input: { name: string }): Promise<{ key: string }>;
}
interface HangarError {
  code: string;
  message: string;
  details: Record<string, unknown>;
}
type ClientClass = new (opts: {
  base_url: string;
  api_key?: string;
  username?: string;
  password?: string;
  max_retries?: number;
}) => SdkClient;
/**
 * The SDK, from its sources at run time: the server's package does not depend on it, and its
 * type check stays within this package.
 */
const SDK_ENTRY = fileURLToPath(new URL('../../sdk/src/index.ts', import.meta.url));
let Client: ClientClass;

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, '../../web');
const SHOTS = join(HERE, '../test-artifacts/web');

/** The newest modification time under a folder (its files, recursively). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

/** Builds the console's assets when they are missing or older than what they are built from. */
function ensureWebBuilt(): void {
  const built = existsSync(join(WEB, 'dist/index.html')) ? statSync(join(WEB, 'dist/index.html')).mtimeMs : 0;
  const sources = Math.max(
    newest(join(WEB, 'src')),
    newest(join(WEB, 'tsup.config.ts')),
    newest(join(WEB, 'package.json')),
    newest(join(WEB, '../sdk/src')),
  );
  if (built > sources) return;
  execFileSync('pnpm', ['run', 'build'], { cwd: WEB, stdio: 'pipe', timeout: 120_000 });
}

let server: TestServer;
let browser: Browser;
let admin: SdkClient;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  Client = ((await import(/* @vite-ignore */ SDK_ENTRY)) as { Client: ClientClass }).Client;
  ensureWebBuilt();
  mkdirSync(SHOTS, { recursive: true });
  // What the tests leave behind is theirs, never the repository's.
  writeFileSync(join(SHOTS, '../.gitignore'), '*\n');
  server = await startTestServer({ simulator: { latency_ms: [100, 300], gpus: simGpus('10de:20b0,10de:20b0') } });
  browser = await launchChromium();
  admin = new Client({ base_url: server.url, api_key: server.apiKey, max_retries: 0 });
  await admin.authenticate();
}, 180_000);
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

/** A fresh browser tab at 1280x720 (its own sessionStorage), with the console's errors collected. */
async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}

async function signInWithPassword(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function signInWithKey(page: Page, key: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel('API key').check();
  await page.getByLabel('API key', { exact: true }).last().fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** What the tests read of a canvas in the page (this package has no DOM types). */
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** The status the VM page's heading shows. */
const headStatus = (page: Page) => page.locator('.page-head .status');

/** Whether the page has been the same document since `markDocument` (no reload, no navigation by the browser). */
const markDocument = (page: Page) => page.evaluate(() => ((globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true));
const sameDocument = (page: Page) => page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument === true);

async function refusal<T>(p: Promise<T>): Promise<HangarError> {
  try {
    await p;
  } catch (err) {
    return err as HangarError;
  }
  throw new Error('the call was not refused');
}

describe('the web console, not built', () => {
  it('answers / with a page saying to run pnpm build, and its other paths as before', async () => {
    const empty = await mkdtemp('/tmp/hangar-web-none-');
    try {
      const app = new Hono();
      mountWebConsole(app as never, { candidates: [empty] });
      const res = await app.request('/vms/abc');
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toContain('pnpm build');
      expect((await app.request('/assets/main-X.js')).status).toBe(404);
      expect((await app.request('/api/v1/vms')).status).toBe(404);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe.runIf(haveChromium)('the web console in a real browser', () => {
  it('is served at / and at its routes, its assets cached by hash, and never in place of the API', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('cache-control')).toBe('no-store');
    // Not to be framed by another site (clickjacking).
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    const html = await index.text();
    const script = /src="(\/assets\/main-[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/assets\/main-[^"]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();

    // The app's own routes are its page for a browser (asking for HTML); reloading a VM's URL works.
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
    for (const path of ['/vms', '/vms/00000000-0000-4000-8000-000000000000', '/vms/new', '/images', '/hosts']) {
      const res = await fetch(`${server.url}${path}`, { headers: browser });
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe(html);
    }
    // The same /vms paths are the earlier APIs' for API clients (they ask for JSON, or anything).
    for (const path of ['/vms', '/vms/00000000-0000-4000-8000-000000000000']) {
      const res = await fetch(`${server.url}${path}`, { headers: { accept: '*/*' } });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('content-type'), path).toContain('application/json');
    }
    // A download below a VM is never the page, even for a browser.
    expect((await fetch(`${server.url}/vms/web-1/export`, { headers: browser })).status).toBe(401);
    const js = await fetch(`${server.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    const css = await fetch(`${server.url}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');

    // A missing asset is a 404, never the page; the API keeps its own answers.
    expect((await fetch(`${server.url}/assets/nope-123.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/assets/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/no/such/page`)).status).toBe(404);
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${server.url}/api/v1/vms`)).status).toBe(401);
    expect((await fetch(`${server.url}/openapi.json`)).headers.get('content-type')).toContain('application/json');
    expect(await (await fetch(`${server.url}/docs`)).text()).toContain('swagger-ui');
  });

  it('signs in, creates a VM from the form, sees it become stopped and then running without a reload', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Sign in to Hangar' }).waitFor();
    await shot(page, 'sign-in');
    await signInWithPassword(page, 'admin', TEST_ADMIN_PASSWORD);
    await markDocument(page);

    await page.getByRole('link', { name: 'Create VM' }).click();
    await page.getByRole('heading', { name: 'Create a VM' }).waitFor();
    await page.getByLabel('Name').fill('web-form-1');
    await page.getByLabel('Labels').fill('tier=web, team=ui');
    await page.getByRole('button', { name: 'Create VM' }).click();

    // The VM's page, following the VM from provisioning to stopped by itself.
    await page.waitForURL(/\/vms\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    await expect.poll(() => headStatus(page).textContent(), { timeout: 20_000 }).toBe('stopped');
    const vm = await admin.getVm(id);
    expect(vm.name).toBe('web-form-1');
    expect(vm.labels).toEqual({ tier: 'web', team: 'ui' });
    await shot(page, 'vm-page');

    // Start: the button the state machine allows, then running.
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => headStatus(page).textContent(), { timeout: 20_000 }).toBe('running');
    const buttons = await page.locator('[data-action]').evaluateAll((b) => b.map((e) => e.getAttribute('data-action')));
    const allowed = (await admin.getVm(id)).allowed_actions.filter((a: string) => a !== 'update_metadata' && a !== 'export');
    expect(buttons.sort()).toEqual(allowed.sort());

    // The other tabs: operations (the create and the start), events, config, serial log.
    await page.getByRole('tab', { name: 'Operations' }).click();
    await expect.poll(() => page.locator('[data-operation-id]').count(), { timeout: 10_000 }).toBe(2);
    await shot(page, 'vm-operations');
    await page.getByRole('tab', { name: 'Events' }).click();
    await page.getByRole('cell', { name: 'stopped → starting' }).first().waitFor();
    await shot(page, 'vm-events');
    await page.getByRole('tab', { name: 'Config' }).click();
    await page.getByLabel('Configuration').getByText('"cpu_cores"').waitFor();
    await shot(page, 'vm-config');
    await page.getByRole('tab', { name: 'Serial log' }).click();
    await page.locator('.log, [data-testid="console-log-unsupported"]').first().waitFor();
    await shot(page, 'vm-serial-log');

    // A destructive action asks first; cancelling does nothing.
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByRole('button', { name: 'Force stop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force stop web-form-1?' });
    await dialog.waitFor();
    await shot(page, 'vm-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await admin.getVm(id)).status).toBe('running');

    // The list, kept current from the watch stream: a change made elsewhere shows up in place.
    await page.getByRole('link', { name: 'VMs' }).click();
    const row = page.locator(`tr[data-vm-id="${id}"]`);
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 10_000 }).toBe('running');
    const box = await row.boundingBox();
    await admin.stopVm(id);
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 20_000 }).toBe('stopped');
    expect(await row.boundingBox(), 'the row kept its place and size').toEqual(box);
    // A VM created elsewhere appears; the filters narrow the list.
    const other = (await admin.createVm({ name: 'db-elsewhere', labels: { tier: 'db' } })).vm;
    await page.locator(`tr[data-vm-id="${other.id}"]`).waitFor({ timeout: 10_000 });
    await page.getByLabel('Label').fill('tier=web');
    await page.getByLabel('Label').press('Enter');
    await page.locator(`tr[data-vm-id="${other.id}"]`).waitFor({ state: 'detached' });
    expect(await row.count()).toBe(1);
    await page.getByLabel('Label').fill('');
    await page.getByLabel('Label').press('Enter');
    await page.getByLabel('Search').fill('db-else');
    await expect.poll(() => page.locator('tbody tr[data-vm-id]').count()).toBe(1);
    await page.getByLabel('Search').fill('');
    await expect.poll(() => page.locator('tbody tr[data-vm-id]').count()).toBe(2);
    await shot(page, 'vm-list');

    await page.getByRole('link', { name: 'Images' }).click();
    await page.getByRole('heading', { name: 'Images' }).waitFor();
    await shot(page, 'images');
    await page.getByRole('link', { name: 'Hosts' }).click();
    await page.locator('[data-host-name]').first().waitFor();
    await shot(page, 'hosts');

    expect(await sameDocument(page), 'no reload').toBe(true);
    expect(errors).toEqual([]);

    // Signing out forgets the session, also across a reload.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Hangar' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Hangar' }).waitFor();
  }, 120_000);

  it("shows the API's message when an action is refused", async () => {
    const { vm } = await admin.createVm({ name: 'refused-1', start: true }, { wait: true });
    await admin.waitForVm(vm.id, 'running');
    const { page } = await newPage();
    await signInWithPassword(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.goto(`${server.url}/vms/${vm.id}`);
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    // The page goes stale (it reads nothing more: no watch stream, no queries; its actions still
    // go through), and meanwhile the VM stops elsewhere: its Pause button is now a request the
    // server refuses.
    await page.route('**/api/v1/events/stream**', (r) => r.abort());
    await page.route('**/trpc/**', (r) => (r.request().method() === 'GET' ? r.abort() : r.continue()));
    await admin.stopVm(vm.id, { wait: true });
    const expected = await refusal(admin.pauseVm(vm.id));
    expect(expected.code).toBe('INVALID_STATE');

    await page.getByRole('button', { name: 'Pause' }).click();
    const note = page.locator('#action-error');
    await note.waitFor();
    expect(await note.textContent()).toBe(expected.message);
    expect(await note.getAttribute('role')).toBe('alert');
    await shot(page, 'vm-refused');
  }, 60_000);

  it('shows the API validation messages on the form fields', async () => {
    const { page } = await newPage();
    await signInWithPassword(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.goto(`${server.url}/vms/new`);
    await page.getByLabel('Name').fill('Not_A_Label');
    await page.getByLabel('vCPUs').fill('0');
    await page.getByRole('button', { name: 'Create VM' }).click();

    const expected = await refusal(admin.createVm({ name: 'Not_A_Label', cpu_cores: 0, memory_mb: 2048, disk_gb: 20 }));
    const fields = (expected.details.fields as { path: string; message: string }[]).map((f) => [f.path, f.message]);
    expect(fields.map(([p]) => p).sort()).toEqual(['cpu_cores', 'name']);
    for (const [path, message] of fields) {
      const input = page.locator(`#${path}`);
      const error = page.locator(`#${path}-error`);
      await error.waitFor();
      expect(await error.textContent(), path).toBe(message);
      expect(await input.getAttribute('aria-invalid'), path).toBe('true');
      expect(await input.getAttribute('aria-describedby'), path).toContain(`${path}-error`);
    }
    // The fields without a problem are not marked.
    expect(await page.locator('#disk_gb').getAttribute('aria-invalid')).toBeNull();
    expect(new URL(page.url()).pathname).toBe('/vms/new');
    await shot(page, 'vm-create-errors');

    // The resize form too: a disk only grows.
    const { vm } = await admin.createVm({ name: 'resize-1', disk_gb: 20 }, { wait: true });
    await page.goto(`${server.url}/vms/${vm.id}`);
    await page.getByLabel('Disk (GB)').fill('10');
    await page.getByRole('button', { name: 'Resize' }).click();
    const shrink = await refusal(admin.resizeVm(vm.id, { disk_gb: 10 }));
    const diskError = page.locator('#resize-disk_gb-error, #resize-error').first();
    await diskError.waitFor();
    expect(await diskError.textContent()).toContain(
      (shrink.details.fields as { message: string }[] | undefined)?.[0]?.message ?? shrink.message,
    );
    await shot(page, 'vm-resize-error');
  }, 60_000);

  it('shows a viewer no action buttons, and hosts only to global admins', async () => {
    const { vm } = await admin.createVm({ name: 'viewed-1' }, { wait: true });
    await admin.createUser({ username: 'web-viewer', password: 'viewer password 123', role: 'viewer' });
    const { page, errors } = await newPage();
    await signInWithPassword(page, 'web-viewer', 'viewer password 123');
    expect(await page.locator('.whoami').textContent()).toContain('viewer');
    await page.locator(`tr[data-vm-id="${vm.id}"]`).waitFor();
    expect(await page.getByRole('link', { name: 'Create VM' }).count()).toBe(0);

    await page.locator(`tr[data-vm-id="${vm.id}"] a`).click();
    await page.getByRole('heading', { name: 'viewed-1' }).waitFor();
    await page.getByRole('tab', { name: 'Overview' }).waitFor();
    expect(vm.allowed_actions.length).toBeGreaterThan(0);
    expect(await page.locator('[data-action]').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Start' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Resize' }).count()).toBe(0);
    await shot(page, 'viewer-vm-page');

    await page.getByRole('link', { name: 'Hosts' }).click();
    await page.getByTestId('hosts-admin-only').waitFor();
    await shot(page, 'viewer-hosts');
    expect(errors).toEqual([]);
  }, 60_000);

  it("opens the VM's screen in the Console tab, and shows the API's message when it cannot", async () => {
    const { vm } = await admin.createVm({ name: 'screen-1', start: true }, { wait: true });
    const stopped = (await admin.createVm({ name: 'screen-off-1' }, { wait: true })).vm;
    const { page, errors } = await newPage();
    await signInWithPassword(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.goto(`${server.url}/vms/${vm.id}`);
    await page.getByRole('tab', { name: 'Console' }).click();
    // The simulated host's screen (640×480) through the ticket's WebSocket.
    await page.locator('[data-vnc-state="connected"]').waitFor({ timeout: 20_000 });
    const canvas = page.locator('[data-testid="vnc-screen"] canvas');
    await expect.poll(() => canvas.evaluate((c: Canvas) => `${c.width}x${c.height}`)).toBe('640x480');
    await shot(page, 'vm-console');

    const refused = await refusal(admin.consoleTicket(stopped.id));
    await page.goto(`${server.url}/vms/${stopped.id}`);
    await page.getByRole('tab', { name: 'Console' }).click();
    const note = page.locator('#console-error');
    await note.waitFor({ timeout: 10_000 });
    expect(await note.textContent()).toBe(refused.message);
    await shot(page, 'vm-console-refused');
    expect(errors).toEqual([]);
  }, 60_000);

  it("signs in with an API key, and shows another project's VM as not found", async () => {
    const { vm } = await admin.createVm({ name: 'not-yours-1' });
    const project = await admin.createProject('web-other');
    await admin.createUser({ username: 'web-outsider', password: 'outsider password 123', role: 'admin', project_id: project.id });
    const outsider = new Client({ base_url: server.url, username: 'web-outsider', password: 'outsider password 123', max_retries: 0 });
    await outsider.authenticate();
    const { key } = await outsider.createApiKey({ name: 'web console test' });

    const { page } = await newPage();
    await signInWithKey(page, key);
    await markDocument(page);
    await page.getByText('0 VMs').waitFor();
    await page.goto(`${server.url}/vms/${vm.id}`);
    await page.getByTestId('not-found').waitFor();
    expect(await page.getByRole('heading', { name: 'Not found' }).count()).toBe(1);
    expect(await page.locator('[data-action]').count()).toBe(0);
    await shot(page, 'not-found');
    // The session outlived that reload (sessionStorage), and a wrong key is refused with the API's word.
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').check();
    await page.getByLabel('API key', { exact: true }).last().fill('hgr_not_a_real_key_0000000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#sign-in-error').waitFor();
    const wrong = await refusal(
      new Client({ base_url: server.url, api_key: 'hgr_not_a_real_key_0000000000000000', max_retries: 0 }).authenticate(),
    );
    expect(await page.locator('#sign-in-error').textContent()).toBe(wrong.message);
  }, 60_000);
});

const qemuSkip = qemuSkipReason();
if (haveChromium && qemuSkip) console.warn(`web console QEMU screen test skipped: ${qemuSkip}`);

describe.runIf(haveChromium && qemuSkip === null)("the web console's Console tab on a QEMU VM", () => {
  let dataDir: string;
  let database: Database;
  let qemu: QemuTestServer | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp('/tmp/hq-web-screen-');
    database = await createTestDatabase();
    qemu = await startQemuTestServer({ database, dataDir, boot: testGuest() });
  }, 120_000);
  afterAll(async () => {
    if (!dataDir) return;
    try {
      if (qemu) {
        for (const d of await qemu.driver.list()) await qemu.driver.kill(d.ref);
        await qemu.close();
      }
    } finally {
      await database?.close();
      for (const pid of await qemuProcessesUnder(dataDir)) process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it("connects to the VM's screen and shows what the guest draws", async () => {
    const s = qemu!;
    const sdk = new Client({ base_url: s.url, api_key: s.apiKey, max_retries: 0 });
    const { vm } = await sdk.createVm({ name: 'screen-qemu', cpu_cores: 1, memory_mb: 256, disk_gb: 1, start: true }, { wait: true });
    expect(vm.status).toBe('running');

    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${s.url}/`);
    await page.getByLabel('API key').check();
    await page.getByLabel('API key', { exact: true }).last().fill(s.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.goto(`${s.url}/vms/${vm.id}`);
    await page.getByRole('tab', { name: 'Console' }).click();
    await page.locator('[data-vnc-state="connected"]').waitFor({ timeout: 30_000 });

    // Not blank: the screen holds more than one colour once the guest (or its firmware) has drawn.
    const colours = () =>
      page.locator('[data-testid="vnc-screen"] canvas').evaluate((c: Canvas) => {
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < data.length && seen.size < 16; i += 4 * 7) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
        return seen.size;
      });
    await expect.poll(colours, { timeout: 60_000, interval: 1_000 }).toBeGreaterThan(1);
    await shot(page, 'vm-console-qemu');
  }, 180_000);
});
