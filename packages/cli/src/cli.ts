import { HangarError } from '@hangar/sdk';
import { CommanderError } from 'commander';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { Interrupted } from './interrupt.js';
import { buildProgram } from './program.js';

/** A hint for the failures people hit first, after the error itself. */
function hintFor(code: number): string {
  if (code === ExitCode.AUTH)
    return 'check the key: `hgr login`, HANGAR_API_KEY or --api-key (a role too weak or a quota reached also lands here)';
  if (code === ExitCode.UNREACHABLE) return 'is the server running? `hgr login`, HANGAR_URL or --url say where it is';
  return '';
}

/** How a failure is told: on stderr, as JSON under --json (so a script reads it as it reads answers), else as a line. */
function report(err: unknown, code: number, json: boolean): void {
  const e = err instanceof Error ? err : new Error(String(err));
  const hangar = err instanceof HangarError ? err : null;
  if (json) {
    const error = {
      exit_code: code,
      message: e.message,
      code: hangar?.code ?? null,
      status: hangar?.status ?? null,
      request_id: hangar?.request_id ?? null,
    };
    process.stderr.write(`${JSON.stringify({ error: { ...error, details: hangar?.details ?? {} } })}\n`);
    return;
  }
  const tags = [hangar?.code, hangar?.request_id && `request ${hangar.request_id}`].filter(Boolean).join(', ');
  process.stderr.write(`hgr: ${e.message}${tags ? ` (${tags})` : ''}\n`);
  const hint = hintFor(code);
  if (hint) process.stderr.write(`hint: ${hint}\n`);
}

/**
 * Runs `hgr` with these arguments and answers the exit code (it never calls process.exit, so
 * output still being written is not cut off).
 */
export async function main(argv: string[]): Promise<number> {
  // A reader that has had enough (`hgr vm ls | head`) closes the pipe: that is the end, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.OK);
    throw err;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.OK;
  } catch (err) {
    // Commander's own errors (bad flags, --help, --version) are already printed: only the code is left to say.
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    if (err instanceof Interrupted) {
      if (err.message) process.stderr.write(`\n${err.message}\n`);
      if (err.resume) process.stderr.write(`Resume with: ${err.resume}\n`);
      return ExitCode.INTERRUPTED;
    }
    const code = exitCodeFor(err);
    const opts = program.opts<{ json?: boolean; output?: string }>();
    report(err, code, opts.json === true || opts.output === 'json');
    return code;
  }
}
