import { Client, type Operation, type VmActionResult } from '@hangar/sdk';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hgr, hgrJson, hgrOnTerminal, tempConfigHome } from './hgr.js';

let server: TestServer;
let client: Client;
let env: Record<string, string>;
beforeAll(async () => {
  // A guest takes 4 s to power off: long enough to interrupt a wait for it.
  server = await startTestServer({ simulator: { guest_shutdown_ms: 4000 } });
  client = new Client({ base_url: server.url, api_key: server.apiKey });
  env = { HANGAR_URL: server.url, HANGAR_API_KEY: server.apiKey, XDG_CONFIG_HOME: await tempConfigHome() };
});
afterAll(async () => {
  await server?.stop();
});

async function runningVm(name: string) {
  const { vm } = await client.createVm({ name, cpu_cores: 1, memory_mb: 512, disk_gb: 1, start: true }, { wait: true });
  return client.waitForVm(vm.id, 'running', { timeout_ms: 10_000 });
}

describe('waiting', () => {
  it('Ctrl-C stops the wait, not the operation: exit 130 with the command that resumes it', async () => {
    const vm = await runningVm('slow-stop');
    let stopOp: Operation | undefined;
    const r = await hgr(['vm', 'stop', vm.id, '--wait'], {
      env,
      onSpawn: (child) => {
        void (async () => {
          // Once the stop's operation exists the command is (within moments) waiting on it.
          for (let i = 0; i < 100 && !stopOp; i++) {
            stopOp = (await client.listOperations({ vm_id: vm.id, status: 'running' })).operations.find((o) => o.action === 'stop');
            stopOp ??= (await client.listOperations({ vm_id: vm.id, status: 'pending' })).operations.find((o) => o.action === 'stop');
            if (!stopOp) await new Promise((res) => setTimeout(res, 50));
          }
          await new Promise((res) => setTimeout(res, 500));
          child.kill('SIGINT');
        })();
      },
    });
    expect(stopOp).toBeDefined();
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`Resume with: hgr op wait ${stopOp!.id}`);
    expect(r.stdout).toBe('');
    // The operation went on regardless, and waiting for it again sees it through.
    expect((await client.getOperation(stopOp!.id)).status).not.toBe('cancelled');
    const resumed = await hgrJson<Operation>(['op', 'wait', stopOp!.id], { env });
    expect(resumed.status).toBe('succeeded');
    expect((await client.getVm(vm.id)).status).toBe('stopped');
  });

  it('gives up after --wait-timeout with exit 7, saying how to wait again', async () => {
    const vm = await runningVm('slow-stop-2');
    const r = await hgr(['vm', 'stop', vm.id, '--wait', '--wait-timeout', '1'], { env });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/hgr op wait \S+ waits again/);
  });

  it('draws no progress when stderr is not a terminal, and a spinner when it is', async () => {
    const piped = await hgr(['vm', 'create', 'quiet', '--memory', '512', '--disk', '1', '--wait'], { env });
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');

    // On a terminal: ora's frames, then its success line, on stderr beside the answer.
    const created = await hgrJson<VmActionResult>(['vm', 'create', 'loud', '--memory', '512', '--disk', '1', '--wait'], { env });
    const shown = await hgrOnTerminal(['vm', 'start', created.vm.id, '--wait'], env);
    expect(shown).toContain(`start ${created.vm.id}: pending`);
    expect(shown).toMatch(new RegExp(`✔ start ${created.vm.id}: succeeded in [0-9.]+s`));
    expect(shown).toMatch(new RegExp(`${created.vm.id}\\s+loud\\s+running`));
  });
});
