import type { Database } from '@hangar/core';
import { createTestDatabase } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// A call answered once its operation has finished (`?wait=true`) reads the operation and its
// VM together: the read that sees the operation finished is the answer, with no read of the VM
// of its own after it.

let database: Database;
let server: TestServer;
const sent: string[] = [];
beforeAll(async () => {
  database = await createTestDatabase({ onStatement: (q) => sent.push(q) });
  server = await startTestServer({ database, worker: { poll_ms: 50 } });
});
afterAll(async () => {
  await server?.stop();
  await database?.close();
});

const JOINED = 'from "operations" inner join "vms"';
/** The VM read by id on its own (`services.vms.get`). */
const VM_BY_ID = 'from "vms" where ("vms"."id" = $1 and "vms"."project_id" = $2)';
const count = (statements: string[], text: string) => statements.filter((s) => s.includes(text)).length;

describe('a create answered with ?wait=true', () => {
  it('reads its operation and VM together, and the VM not on its own', async () => {
    const from = sent.length;
    const res = await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'waited', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }),
    });
    const body = (await res.json()) as { vm: { status: string; current_operation_id: string | null }; operation: { status: string } };
    expect(res.status).toBe(201);
    expect(body).toMatchObject({ vm: { status: 'stopped', current_operation_id: null }, operation: { status: 'succeeded' } });
    const during = sent.slice(from);
    // When the wait began, and when its operation was seen finished (once, if it had already
    // finished when the wait began).
    expect(count(during, JOINED)).toBeGreaterThanOrEqual(1);
    expect(count(during, JOINED)).toBeLessThanOrEqual(2);
    expect(count(during, VM_BY_ID)).toBe(0);
  });
});
