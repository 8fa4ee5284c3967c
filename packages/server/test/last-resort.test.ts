import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNCAUGHT_EXIT_CODE } from '../src/last-resort.js';
import { serveProcess } from '../src/serve-process.js';
import { TEST_ADMIN_KEY } from '../src/testing.js';

let database: Database;
let dataDir: string;
beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'hangar-last-resort-'));
});
afterAll(async () => {
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

// What a dependency's timer callback throwing looks like from outside: nothing of Hangar's on the
// stack. The module is loaded into `hangar serve` by NODE_OPTIONS; SIGUSR2 makes it throw.
const THROWER = `data:text/javascript,${encodeURIComponent(
  "process.on('SIGUSR2', () => setImmediate(() => { throw new Error('thrown from a timer callback') }))",
)}`;

describe('an error nothing catches', () => {
  it('is logged with its stack, and the server exits promptly and non-zero for its supervisor', async () => {
    const server = await serveProcess({
      DATABASE_URL: database.url,
      HANGAR_DATA_DIR: dataDir,
      HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
      HANGAR_ADMIN_PASSWORD: 'not used here',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${THROWER}`,
    });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const t0 = Date.now();
    server.child.kill('SIGUSR2');
    expect(await server.exited).toBe(UNCAUGHT_EXIT_CODE);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const fatal = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string; stack: string } })
      .find((l) => l.level === 60);
    expect(fatal?.msg).toBe('uncaught exception: Hangar exits so that its supervisor starts it again');
    expect(fatal?.err?.message).toBe('thrown from a timer callback');
    expect(fatal?.err?.stack).toContain('Immediate');
  });
});
