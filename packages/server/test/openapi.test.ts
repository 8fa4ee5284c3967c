import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/http/openapi.js';
import { restProcedures } from '../src/http/rest-routes.js';
import { appRouter } from '../src/router.js';
import { startTestServer, type TestServer } from '../src/testing.js';

const COMMITTED = fileURLToPath(new URL('../openapi.json', import.meta.url));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

describe('the OpenAPI document', () => {
  it('is committed and matches what the router generates (regenerate: pnpm --filter @hangar/server openapi)', () => {
    expect(existsSync(COMMITTED)).toBe(true);
    expect(JSON.parse(readFileSync(COMMITTED, 'utf8'))).toEqual(buildOpenApiDocument());
  });

  it('is served at /openapi.json', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual(buildOpenApiDocument());
  });

  it('describes every procedure as a REST route, with the bearer scheme and the error shape', () => {
    const doc = buildOpenApiDocument();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    // The agent protocol (agent.*) is hosts' business, not the public API's: it has no REST route.
    // The watch subscription's REST side is the SSE route /events/stream (described by hand).
    const procedures = Object.keys(appRouter._def.procedures).filter((p) => !p.startsWith('agent.') && p !== 'events.watch');
    expect(doc.paths['/events/stream'].get.responses['200'].content['text/event-stream']).toBeDefined();
    expect(
      restProcedures()
        .map((p) => p.name)
        .sort(),
    ).toEqual(procedures.sort());
    const operations = Object.values(doc.paths).flatMap((p: any) => Object.values(p)) as any[];
    for (const op of operations) {
      expect(op.responses['404'].content['application/json'].schema.$ref, op.operationId).toBe('#/components/schemas/Error');
      // Signing in needs no credentials; the VM screen's WebSocket takes a ticket in its URL instead.
      if (op.operationId === 'vms-console-socket') expect(op.security).toEqual([]);
      else if (op.operationId !== 'auth-token') expect(op.security, op.operationId).toEqual([{ bearer: [] }]);
    }
    expect(doc.paths['/vms'].post.responses['201'].headers.Location).toBeDefined();
    expect(doc.paths['/vms/{id}/start'].post.responses['202']).toBeDefined();
    expect(doc.paths['/vms/{id}'].put.operationId).toBe('vms-update-put');
    expect(doc.paths['/vms'].get.parameters.map((p: any) => p.name)).toContain('server_id');
    expect(doc.paths['/vms/{id}'].get.responses['200'].content['application/json'].example.status).toBe('running');
    expect(doc.components.schemas.Error.required).toEqual(expect.arrayContaining(['detail', 'code']));
  });
});
