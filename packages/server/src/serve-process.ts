import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../bin/node-flags.mjs';

const BIN = fileURLToPath(new URL('../bin/hangar.mjs', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * `hangar serve` as its own process, as a user runs it; resolves once it says where it serves.
 * `args` are node's (default: the `hangar` command, with `serve`, and the node flags `pnpm start` gives it).
 * A variable given as undefined is removed from the environment it inherits (DATABASE_URL, for an embedded database).
 */
export async function serveProcess(
  env: Record<string, string | undefined>,
  args: string[] = [...SERVE_NODE_FLAGS, BIN, 'serve'],
): Promise<ServeProcess> {
  const merged: Record<string, string | undefined> = { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const child = spawn(process.execPath, args, {
    env: merged as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a test can kill it with everything it started (kill -9 of the whole server).
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const m = /serving on (http:\/\/\S+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    void exited.then(() => reject(new Error(`hangar exited before serving:\n${output}`)));
  });
  return { child, url, exited, output: () => output };
}
