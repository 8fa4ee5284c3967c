import { execFile } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; rejects with its stderr in the message. ENOENT keeps its code. */
export function run(file: string, args: string[], opts: { timeout_ms?: number; signal?: AbortSignal } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeout_ms ?? 60_000, signal: opts.signal, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT' || e.name === 'AbortError') return reject(err);
        reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || e.message}`));
      },
    );
  });
}
