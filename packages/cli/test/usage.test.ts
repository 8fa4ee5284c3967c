import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HGR_BIN, hgr } from './hgr.js';

const run = promisify(execFile);

// Nothing here needs a server: usage errors, help and completion are answered before any call.
describe('hgr without a server', () => {
  it('prints help with the exit codes, exit 0', async () => {
    const r = await hgr(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit codes:');
    expect(r.stdout).toMatch(/130\s+interrupted/);
    for (const cmd of ['login', 'vm', 'image', 'op', 'host', 'key', 'completion']) expect(r.stdout).toContain(cmd);
  });

  it('exits 2 on an unknown option, command or bad value, and says why on stderr', async () => {
    const unknownOption = await hgr(['vm', 'ls', '--frobnicate']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("unknown option '--frobnicate'");
    expect(unknownOption.stdout).toBe('');

    expect((await hgr(['vm', 'explode'])).code).toBe(2);
    expect((await hgr(['nonsense'])).code).toBe(2);
    const badChoice = await hgr(['vm', 'ls', '--status', 'sleeping']);
    expect(badChoice.code).toBe(2);
    expect(badChoice.stderr).toContain('Allowed choices are');
    expect((await hgr(['vm', 'create', 'web-1', '--cpu', 'two'])).code).toBe(2);
    expect((await hgr(['vm', 'get'])).code).toBe(2);
    expect((await hgr(['--output', 'yaml', 'vm', 'ls'])).code).toBe(2);
    expect((await hgr(['completion', 'tcsh'])).code).toBe(2);
  });

  it('ends quietly when its reader closes the pipe early (`hgr … | head`)', async () => {
    // `true` reads nothing and is gone long before node has started: every write meets a closed pipe.
    const r = await run('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${HGR_BIN}" completion bash | true`]).then(
      (out) => ({ code: 0, stderr: out.stderr }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.code).toBe(0);
  });

  it('exits 8 when the server cannot be reached, with a hint', async () => {
    // Port 9 (discard) on loopback: nothing listens there in a test environment.
    const r = await hgr(['vm', 'ls'], { env: { HANGAR_URL: 'http://127.0.0.1:9', HANGAR_API_KEY: 'hgr_x' } });
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('Cannot reach the Hangar server at http://127.0.0.1:9: ');
    expect(r.stderr).toContain('hint:');
  });

  it('prints completion scripts made from the command tree', async () => {
    const bash = await hgr(['completion', 'bash']);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toContain('complete -o default -F _hgr_completion hgr');
    // The root's commands, a nested command's subcommands and options, and an option's choices.
    expect(bash.stdout).toMatch(/''\) words='login vm image op host key completion /);
    expect(bash.stdout).toMatch(
      /'vm'\) words='ls get create start stop restart reset pause resume resize rm export import events console-log watch /,
    );
    expect(bash.stdout).toContain("'vm ls|--status') COMPREPLY=($(compgen -W 'stopped running paused");

    // And bash, running it, completes what is typed.
    const complete = async (...words: string[]) => {
      const script = `${bash.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hgr_completion; echo "\${COMPREPLY[*]}"`;
      return (await promisify(execFile)('bash', ['-c', script])).stdout.trim();
    };
    expect(await complete('hgr', 'vm', 're')).toBe('restart reset resume resize');
    expect(await complete('hgr', '--json', 'image', 'add', '--kind', '')).toBe('iso disk');
    expect(await complete('hgr', 'op', 'ls', '--li')).toBe('--limit');

    const zsh = await hgr(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toContain('#compdef hgr');
    expect(zsh.stdout).toContain("'vm:virtual machines");

    const fish = await hgr(['completion', 'fish']);
    expect(fish.code).toBe(0);
    expect(fish.stdout).toContain("complete -c hgr -n '__fish_use_subcommand' -a vm");
    expect(fish.stdout).toContain('__fish_seen_subcommand_from image');
  });
});
