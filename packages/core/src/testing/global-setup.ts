import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type EmbeddedCluster, startEmbeddedPostgres } from '../store/embedded.js';
import './provided.js';

/**
 * One PostgreSQL for the whole run: the one DATABASE_URL names, or an embedded cluster in a
 * temporary directory. Each test file then makes its own database on it.
 */
export default async function setup(project: TestProject) {
  const external = process.env.DATABASE_URL;
  let cluster: EmbeddedCluster | undefined;
  let dir: string | undefined;
  if (external) {
    project.provide('pgAdminUrl', external);
    project.provide('pgMode', 'external');
  } else {
    dir = await mkdtemp(join(tmpdir(), 'hangar-test-pg-'));
    cluster = await startEmbeddedPostgres({ dir, unsafeFast: true });
    project.provide('pgAdminUrl', cluster.adminUrl);
    project.provide('pgMode', 'embedded');
  }
  return async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
