import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, StatementLog, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// What a list page costs in statements: the page; a count when the page cannot tell the total;
// and the count's plan (an EXPLAIN) once per filter for a few seconds, not on every page.

let cp: TestControlPlane;
const log = new StatementLog();
const statementsOf = (run: () => Promise<unknown>) => log.during(run);

beforeAll(async () => {
  const database = await createTestDatabase({ onStatement: log.onStatement });
  cp = await startTestControlPlane({ database, worker: false, reconciler: false });
  for (let i = 0; i < 60; i++)
    await cp.services.vms.create(cp.scope, {
      name: `l-${i}`,
      cpu_cores: 1,
      memory_mb: 128,
      disk_gb: 1,
      labels: { tier: i < 55 ? 'web' : 'db' },
    });
});
afterAll(async () => {
  await cp?.shutdown();
  await cp?.database.close();
});

const explains = (qs: string[]) => qs.filter((q) => q.startsWith('EXPLAIN')).length;

describe('a list page', () => {
  it('plans its count once per filter, and a page that shows the whole listing counts nothing', async () => {
    const web = { label: ['tier=web'], per_page: 50 };
    let page: Awaited<ReturnType<typeof cp.services.vms.list>> | undefined;
    const first = await statementsOf(async () => (page = await cp.services.vms.list(cp.scope, web)));
    expect(page).toMatchObject({ total: 55, total_is_estimate: false });
    expect(page!.vms).toHaveLength(50);
    expect(explains(first)).toBe(1);
    expect(first).toHaveLength(3); // the page, the plan, the count
    const again = await statementsOf(async () => (page = await cp.services.vms.list(cp.scope, web)));
    expect(page).toMatchObject({ total: 55 });
    expect(again).toHaveLength(2); // the plan is kept
    // Another filter is planned for itself.
    expect(explains(await statementsOf(() => cp.services.vms.list(cp.scope, { label: ['tier=web'], per_page: 10 })))).toBe(0);
    expect(explains(await statementsOf(() => cp.services.vms.list(cp.scope, { label: ['tier=db'], per_page: 2 })))).toBe(1);
    // All of it on one page: the page is the count.
    const whole = await statementsOf(async () => (page = await cp.services.vms.list(cp.scope, { label: ['tier=db'] })));
    expect(page).toMatchObject({ total: 5, total_is_estimate: false });
    expect(whole).toHaveLength(1);
  });
});
