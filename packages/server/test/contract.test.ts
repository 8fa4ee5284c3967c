import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freePort } from '@hangar/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';
import { defineRestSuite } from './rest-suite.js';

// Prism (@stoplight/prism-cli, a tool nobody here wrote) proxies the REST suite and, with
// --errors, turns any request or answer that breaks openapi.json into an error answer.
const DOCUMENT = fileURLToPath(new URL('../openapi.json', import.meta.url));
const PRISM = createRequire(import.meta.url).resolve('@stoplight/prism-cli/dist/index.js');

let server: TestServer;
let prism: ChildProcess;
let prismUrl: string;
let log = '';

beforeAll(async () => {
  server = await startTestServer();
  const port = await freePort();
  prism = spawn(process.execPath, [PRISM, 'proxy', DOCUMENT, `${server.url}/api/v1`, '--errors', '-p', String(port), '-h', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Prism is listening')) resolve();
    };
    prism.stdout!.on('data', onData);
    prism.stderr!.on('data', onData);
    prism.on('exit', (code) => reject(new Error(`prism exited (${code}):\n${log}`)));
  });
  prismUrl = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  prism?.kill();
  await server?.stop();
});

defineRestSuite({ base: () => prismUrl, server: () => server, direct: false });

it('found no violation of the document in any request or answer', () => {
  const forwarded = log.match(/Forwarding/g)?.length ?? 0;
  expect(forwarded).toBeGreaterThan(30);
  const violations = log.split('\n').filter((l) => /violation|✖/i.test(l));
  expect(violations).toEqual([]);
});
