import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';
import { browserTestRuns, launchChromium } from './chromium.js';

const haveChromium = browserTestRuns('docs page test');

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  if (!haveChromium) return;
  server = await startTestServer();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe.runIf(haveChromium)('GET /docs in a real browser', () => {
  it('renders the VM routes, with nothing loaded from outside the server', async () => {
    const page = await browser.newPage();
    const outside: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(server.url)) outside.push(req.url());
    });
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    // biome-ignore lint/performance/useDomNodeTextContent: what a reader sees, as rendered
    const text = await page.locator('#swagger-ui').innerText();
    expect(text).toContain('Hangar');
    for (const route of ['/vms', '/vms/{id}', '/vms/{id}/start', '/vms/{id}/stop', '/operations/{id}']) {
      expect(text, route).toContain(route);
    }
    expect(outside).toEqual([]);
    await page.close();
  });
});
