import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyForUser, createUser, ensureProject, type Principal } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// Keys made on the host's command line (`hangar admin create-key`), for a user named there.
let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane({ worker: false, reconciler: false });
  const admin = (project_id: string): Principal =>
    ({ user_id: null, project_id, role: 'admin', global_admin: true, via: 'api_key' }) as unknown as Principal;
  const a = await ensureProject(cp.database.db, 'alpha');
  const b = await ensureProject(cp.database.db, 'beta');
  await createUser(cp.database.db, admin(a.id), { username: 'ops', role: 'operator', project_id: a.id });
  await createUser(cp.database.db, admin(b.id), { username: 'ops', role: 'viewer', project_id: b.id });
  await createUser(cp.database.db, admin(b.id), { username: 'solo', role: 'admin', project_id: b.id });
});
afterAll(() => cp?.shutdown());

describe('createKeyForUser', () => {
  it('makes a key with the user’s role, or a weaker one', async () => {
    const key = await createKeyForUser(cp.database.db, { username: 'solo', name: 'cli' });
    expect(key.key).toMatch(/^hgr_/);
    expect(key.api_key).toMatchObject({ name: 'cli', role: 'admin' });
    expect((await cp.services.auth.apiKey(key.key)).role).toBe('admin');
    const weaker = await createKeyForUser(cp.database.db, { username: 'solo', name: 'ro', role: 'viewer' });
    expect(weaker.api_key.role).toBe('viewer');
  });

  it('asks which project when the username is in several, and finds it when told', async () => {
    await expect(createKeyForUser(cp.database.db, { username: 'ops', name: 'cli' })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/in projects (alpha, beta|beta, alpha): say which with --project/),
    });
    const beta = await createKeyForUser(cp.database.db, { username: 'ops', project: 'beta', name: 'cli' });
    expect(beta.api_key.role).toBe('viewer');
  });

  it('refuses an unknown user, a role above the user’s, and a role that does not exist', async () => {
    await expect(createKeyForUser(cp.database.db, { username: 'nobody', name: 'cli' })).rejects.toMatchObject({
      message: "No user named 'nobody'",
    });
    await expect(createKeyForUser(cp.database.db, { username: 'ops', project: 'beta', name: 'cli', role: 'admin' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(createKeyForUser(cp.database.db, { username: 'solo', name: 'cli', role: 'root' })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
  });
});
