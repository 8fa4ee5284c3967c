import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '@hangar/core/testing';
import { SERVE_NODE_FLAGS } from '../../bin/node-flags.mjs';

const SERVER_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Proc {
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, what: string): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not become ready at ${url}`);
}

function start(args: string[], env: Record<string, string>, readyPath: string, what: string, port: number): Promise<Proc> {
  const child = spawn(process.execPath, args, {
    cwd: SERVER_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  return waitReady(`${url}${readyPath}`, child, what).then(() => ({
    url,
    pid: child.pid!,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  }));
}

/** `hangar serve` as a user runs it (its own process, `pnpm start`'s node flags, default log level), on an external database. */
export async function startHangar(opts: { databaseUrl: string; dataDir: string; apiKey: string; worker?: boolean }): Promise<Proc> {
  const port = await freePort();
  // HANGAR_BENCH_NODE_ARGS: flags for its node (and the baseline's), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes.
  const nodeArgs = process.env.HANGAR_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return start(
    [...SERVE_NODE_FLAGS, ...nodeArgs, 'bin/hangar.mjs', 'serve'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: opts.databaseUrl,
      HANGAR_DATA_DIR: opts.dataDir,
      HANGAR_BOOTSTRAP_API_KEY: opts.apiKey,
      HANGAR_ADMIN_PASSWORD: 'bench-password-1234',
      HANGAR_WORKER: opts.worker === false ? 'off' : 'on',
      HANGAR_SHUTDOWN_GRACE_MS: '1000',
    },
    '/readyz',
    'hangar serve',
    port,
  );
}

/** The read-path baseline: a bare Hono route doing the same primary-key SELECT, in the same kind of process. */
export async function startBaseline(databaseUrl: string): Promise<Proc> {
  const port = await freePort();
  // tsx as a loader of this process (not its CLI, which would put the server in a child): the pid is the server's own.
  const nodeArgs = process.env.HANGAR_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return start(
    [...nodeArgs, '--import', 'tsx', 'bench/baseline-server.ts'],
    { PORT: String(port), DATABASE_URL: databaseUrl },
    '/healthz',
    'baseline server',
    port,
  );
}

/** CPU time (user + system) a process has used so far, in ms. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime (fields 14 and 15 of the line) in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident set size of a process, in bytes. */
export async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}
