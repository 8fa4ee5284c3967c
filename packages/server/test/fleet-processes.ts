import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/hangar.mjs', import.meta.url));

/** A `hangar` process of a fleet test: an API process or an agent, as an operator runs them. */
export interface FleetProcess {
  child: ChildProcess;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL: no shutdown, as when a machine dies. */
  kill(): Promise<void>;
  /** SIGTERM, and its exit. */
  stop(): Promise<void>;
}

function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: FleetProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: FleetProcess = {
    child,
    output: () => out,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = ready.exec(out);
      if (m) resolve({ proc, match: m });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`hangar ${args.join(' ')} exited (${code}) before it was ready:\n${out}`)));
  });
}

/** `hangar serve` in API-only mode on a random port; resolves with its URL once it serves. */
export async function startApiProcess(env: Record<string, string>): Promise<FleetProcess & { url: string }> {
  const { proc, match } = await start(['serve'], { HANGAR_MODE: 'api', PORT: '0', ...env }, /serving on (http:\/\/\S+)/);
  return Object.assign(proc, { url: match[1]! });
}

/** `hangar agent`; resolves once it runs its host. */
export async function startAgentProcess(env: Record<string, string>): Promise<FleetProcess & { host_id: string }> {
  const { proc, match } = await start(['agent'], env, /running host \S+ \(([0-9a-f-]{36})\)/);
  return Object.assign(proc, { host_id: match[1]! });
}

/** A one-shot `hangar` command (`admin create-join-token`, say): its stdout, or a rejection with its output. */
export function runCommand(args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`hangar ${args.join(' ')} exited ${code}:\n${out}${err}`)))),
  );
}
