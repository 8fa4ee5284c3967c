import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '@hangar/core';
import { freePort } from '@hangar/core/testing';
import { SERVE_NODE_FLAGS } from '../../bin/node-flags.mjs';

const BIN = fileURLToPath(new URL('../../bin/hangar.mjs', import.meta.url));

export interface StartTimes {
  /** From spawning `hangar serve` to the first 200 from /healthz, in ms. */
  healthy_ms: number;
  /** The split the server logs: process (node and modules), postgres, migrations, control_plane, bootstrap, total. */
  split: Record<string, number>;
  /** Whether it ran the build or the sources. */
  code: string;
}

export interface StartupResults {
  fresh: StartTimes;
  existing: StartTimes;
  /** The same PostgreSQL started alone, in ms: initialised and started (fresh), started (existing). */
  baseline: { fresh_ms: number; existing_ms: number };
}

/** `hangar serve` on the embedded PostgreSQL as a new user starts it: on a fresh data directory, then again on the same one. */
export async function startupPath(runs: number): Promise<StartupResults> {
  const fresh: StartTimes[] = [];
  const existing: StartTimes[] = [];
  const pgFresh: number[] = [];
  const pgExisting: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-bench-start-'));
    try {
      fresh.push(await serveOnce(dir));
      existing.push(await serveOnce(dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const pgDir = await mkdtemp(join(tmpdir(), 'hangar-bench-pg-'));
    try {
      for (const into of [pgFresh, pgExisting]) {
        const t0 = performance.now();
        const cluster = await startEmbeddedPostgres({ dir: pgDir });
        into.push(performance.now() - t0);
        await cluster.stop();
      }
    } finally {
      await rm(pgDir, { recursive: true, force: true });
    }
  }
  const median = (xs: StartTimes[]) => [...xs].sort((a, b) => a.healthy_ms - b.healthy_ms)[Math.floor(xs.length / 2)]!;
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { fresh: median(fresh), existing: median(existing), baseline: { fresh_ms: mid(pgFresh), existing_ms: mid(pgExisting) } };
}

async function serveOnce(dataDir: string): Promise<StartTimes> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', HANGAR_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  const t0 = performance.now();
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`hangar serve exited during start-up:\n${output}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (performance.now() - t0 > 60_000) throw new Error(`hangar serve not healthy after 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const healthy_ms = performance.now() - t0;
    // The serving line may still be on its way out.
    const serving = async () => output.split('\n').find((l) => l.includes('"hangar is serving"'));
    for (let i = 0; i < 100 && !(await serving()); i++) await new Promise((r) => setTimeout(r, 10));
    const line = JSON.parse((await serving()) ?? '{}') as { startup_ms?: Record<string, number>; code?: string };
    return { healthy_ms, split: line.startup_ms ?? {}, code: line.code ?? 'unknown' };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  }
}
