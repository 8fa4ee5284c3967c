import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';

/** The real binary, as a user runs it: `node packages/cli/bin/hgr.mjs`. */
export const HGR_BIN = fileURLToPath(new URL('../bin/hgr.mjs', import.meta.url));

export interface HgrResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HgrOptions {
  /** HANGAR_URL, HANGAR_API_KEY, XDG_CONFIG_HOME…: only these reach the child, besides PATH and HOME. */
  env?: Record<string, string | undefined>;
  /** Written to its stdin, which is then closed. */
  input?: string | Buffer;
  /** Called once it runs (to signal it). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Runs hgr as a child process and answers its exit code and output. The environment is built
 * from scratch, so a HANGAR_API_KEY of the machine running the tests cannot leak in.
 */
export function hgr(args: string[], opts: HgrOptions = {}): Promise<HgrResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() };
    for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [HGR_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
    opts.onSpawn?.(child);
  });
}

/** A fresh, empty config home for one test file (XDG_CONFIG_HOME). */
export function tempConfigHome(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'hgr-config-'));
}

/** Runs hgr and parses its stdout as JSON, failing with its stderr when it did not exit 0. */
export async function hgrJson<T = unknown>(args: string[], opts: HgrOptions = {}): Promise<T> {
  const r = await hgr([...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`hgr ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * Runs hgr on a pseudo-terminal (util-linux `script`), sized by stty (one of no width gets no
 * progress), and answers what the terminal showed, stdout and stderr together, escape codes
 * removed.
 */
export async function hgrOnTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, HGR_BIN, ...args].map(quote).join(' ');
  const { stdout } = await promisify(execFile)('script', ['-qec', `stty cols 120 rows 40; ${command}`, '/dev/null'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    timeout: 20_000,
  });
  return stripVTControlCharacters(stdout);
}
